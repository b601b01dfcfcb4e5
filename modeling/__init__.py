"""Predictive models on top of the warehouse marts (numpy/pandas in, numpy/pandas out)."""
