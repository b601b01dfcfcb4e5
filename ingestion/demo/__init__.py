"""Demo data: daily extracts of a simulated retail business for the ingestion contract."""

from ingestion.demo.generator import generate

__all__ = ["generate"]
