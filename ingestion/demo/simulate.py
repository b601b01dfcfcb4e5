"""The demo world: latent customer behaviour simulated with numpy, one chunk of customers at a time.

Time is a float `t` in days since the window start (00:00 of the first day). Events are simulated
in `t` and turned into whole seconds by a clock that keeps the day and spreads the time of day
over shop or office hours, so a record's daily file is always `floor(t)`.

Output of a chunk: Arrow tables of file rows (row versions) with integer ids and amounts in
integer minor units; the generator formats them per locale and file format.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ingestion import contract
from ingestion.demo import names

DAY = 86_400

# Acquisition: density grows exponentially, the last day has 2.5x the sign-ups of the first.
GROWTH = math.log(2.5)
LEAD_SHARE = 0.08  # sign-ups that never order
# BG/NBD: purchase rate per day ~ Gamma(shape, rate); dropout chance after each purchase ~ Beta.
RATE_SHAPE, RATE_RATE = 0.75, 12.5
DROP_A, DROP_B = 2.0, 60.0
# Gamma-Gamma spend in EUR: order value ~ Gamma(p, nu), nu ~ Gamma(q, gamma); mean spend p/nu.
SPEND_P, SPEND_Q, SPEND_MEAN = 3.0, 2.5, 60.0
SPEND_GAMMA = SPEND_MEAN * (SPEND_Q - 1) / SPEND_P
TIERS = ("VIP", "A", "B", "C")
TIER_TOP_SHARES = (0.01, 0.10, 0.30)  # cumulative: VIP top 1%, A next 9%, B next 20%
LINE_COUNT_P = (0.28, 0.27, 0.22, 0.14, 0.09)  # 1..5 lines, mean ~2.5

# Hourly weights 00..23: when customers shop / when staff work.
SHOP_HOURS = (
    0.3,
    0.2,
    0.1,
    0.1,
    0.1,
    0.2,
    0.5,
    1,
    2,
    3,
    3.5,
    3.5,
    3.5,
    3.5,
    3.3,
    3.2,
    3.2,
    3.3,
    3.6,
    3.8,
    3.5,
    2.6,
    1.5,
    0.8,
)
OFFICE_HOURS = (0.01,) * 8 + (2, 4, 4, 4, 3, 4, 4, 4, 3.5, 2, 1) + (0.01,) * 5
MONTH_FACTOR = (0.85, 0.9, 1.0, 1.0, 1.0, 0.9, 0.8, 0.8, 1.0, 1.05, 1.35, 1.6)
WEEKDAY_FACTOR = (1.0, 1.0, 1.0, 1.0, 1.05, 1.1, 0.9)
BLACK_FRIDAY_FACTOR = 2.5

CURRENCY = {"en": ("EUR", 1.0, 0.03), "ru": ("RUB", 90.0, 0.08)}  # code, per EUR, inflation/yr

# (en name, ru name, price range in EUR, sold by weight)
CATEGORIES = (
    ("Electronics", "Электроника", 30, 900, False),
    ("Home Appliances", "Бытовая техника", 40, 700, False),
    ("Furniture", "Мебель", 50, 1200, False),
    ("Home & Kitchen", "Товары для дома", 5, 120, False),
    ("Clothing", "Одежда", 15, 200, False),
    ("Shoes", "Обувь", 30, 250, False),
    ("Beauty", "Красота и здоровье", 4, 80, False),
    ("Sports", "Спорт и отдых", 10, 400, False),
    ("Toys", "Игрушки", 5, 120, False),
    ("Books", "Книги", 5, 60, False),
    ("Garden", "Сад и огород", 5, 300, False),
    ("Coffee & Tea", "Чай и кофе", 15, 90, True),
)
PRODUCTS_PER_CATEGORY = 25

ACQUISITION_P = {
    "organic": 0.25,
    "paid_search": 0.2,
    "social": 0.16,
    "email": 0.08,
    "partner": 0.06,
    "offline": 0.08,
    "marketplace": 0.07,
}
REFERRAL_SHARE = 0.12
PREFERRED_P = {"email": 0.45, "phone": 0.2, "messenger": 0.2, "sms": 0.15}
# Sales channel mix for key accounts (VIP/A) and the rest.
SALES_P_KEY = {
    "web": 0.3,
    "app": 0.1,
    "store": 0.1,
    "phone": 0.15,
    "marketplace": 0.0,
    "manager": 0.35,
}
SALES_P_REST = {
    "web": 0.45,
    "app": 0.25,
    "store": 0.12,
    "phone": 0.06,
    "marketplace": 0.12,
    "manager": 0.0,
}

# Contact regulation: tier -> (activity type, interval in days) for manager-made contacts.
REGULATION = {
    0: (("call", 7), ("meeting", 30)),
    1: (("call", 91), ("meeting", 182)),
    2: (("call", 182),),
}
NEWSLETTER_TIERS = (2, 3)
INBOUND_PER_ORDER = 0.12
INBOUND_PER_DAY = 0.002
FOLLOW_UP_PER_ORDER = 0.2  # key-account manager e-mails after an order

TICKET_PER_ORDER = 0.055
TICKET_PER_DAY = 0.0012
PRE_DROPOUT_COMPLAINT = 0.6
# Category mixes chosen so that, with the pre-dropout complaints, all tickets come out at about
# question 40% / request 20% / incident 15% / complaint 20% / cancellation 5%.
ORDER_TICKET_CATEGORY = {
    "question": 0.4,
    "request": 0.22,
    "incident": 0.27,
    "complaint": 0.1,
    "cancellation": 0.01,
}
OTHER_TICKET_CATEGORY = {
    "question": 0.65,
    "request": 0.27,
    "incident": 0.03,
    "complaint": 0.045,
    "cancellation": 0.005,
}


def _p(mapping: dict[str, float], codes: tuple[str, ...]) -> np.ndarray:
    w = np.array([mapping.get(c, 0.0) for c in codes])
    return w / w.sum()


def _cdf(weights) -> np.ndarray:
    w = np.asarray(weights, dtype=float)
    return np.concatenate([[0.0], np.cumsum(w) / w.sum()])


def _grouped_rank(sizes: np.ndarray) -> np.ndarray:
    """0-based position of every element within its group, for groups laid out contiguously."""
    starts = np.cumsum(sizes) - sizes
    return np.arange(sizes.sum()) - np.repeat(starts, sizes)


def _last_per_day(group: np.ndarray, sec: np.ndarray) -> np.ndarray:
    """Rows sorted by (group, time) that a daily extract shows: the last state of each day."""
    nxt_group = np.append(group[1:], -1)
    nxt_day = np.append(sec[1:] // DAY, -1)
    return (nxt_group != group) | (nxt_day != sec // DAY)


class World:
    """Everything shared by all chunks: calendar, catalog, managers, tier cut-offs."""

    def __init__(self, customers: int, days: int, end_date: date, seed: int, locale: str):
        self.customers, self.days, self.seed, self.locale = customers, days, seed, locale
        self.start = end_date - timedelta(days=days - 1)
        self.end_sec = days * DAY
        self.currency, self.fx, inflation = CURRENCY[locale]
        rng = np.random.default_rng([seed, 0])

        dates = np.arange(days) + self.start.toordinal()
        self.weekday = np.array([date.fromordinal(int(d)).weekday() for d in dates])
        season = self._season(dates)
        ref_year = np.arange(365) + end_date.toordinal() - 364
        season /= self._season(ref_year).mean()  # a year averages 1, so lambda is the mean rate
        self.cum_season = np.concatenate([[0.0], np.cumsum(season)])
        years = np.array([date.fromordinal(int(d)).year for d in dates])
        self.year_of_day = years - years[0]
        self.shop_cdf, self.office_cdf = _cdf(SHOP_HOURS), _cdf(OFFICE_HOURS)
        self.hour_grid = np.arange(25) / 24

        self._catalog(rng, int(years[-1] - years[0] + 1), inflation)
        self._managers(rng)
        self._tier_cuts(np.random.default_rng([seed, 2]))

    @staticmethod
    def _season(ordinals: np.ndarray) -> np.ndarray:
        ds = [date.fromordinal(int(d)) for d in ordinals]
        f = np.array([MONTH_FACTOR[d.month - 1] * WEEKDAY_FACTOR[d.weekday()] for d in ds])
        for i, d in enumerate(ds):
            # Black Friday: the day after the fourth Thursday of November.
            if d.month == 11 and d.weekday() == 4 and 23 <= d.day <= 29:
                f[i] *= BLACK_FRIDAY_FACTOR
        return f

    def _catalog(self, rng: np.random.Generator, years: int, inflation: float) -> None:
        k = PRODUCTS_PER_CATEGORY
        cat = np.repeat(np.arange(len(CATEGORIES)), k)
        lo = np.array([c[2] for c in CATEGORIES])[cat]
        hi = np.array([c[3] for c in CATEGORIES])[cat]
        eur = np.exp(rng.uniform(np.log(lo), np.log(hi)))
        # Yearly repricing on 1 January; prices end in .99 (EUR) or 9 roubles.
        growth = np.cumprod(
            np.hstack(
                [np.ones((len(eur), 1)), 1 + rng.uniform(0, 2 * inflation, (len(eur), years - 1))]
            ),
            axis=1,
        )
        raw = eur[:, None] * growth * self.fx
        if self.locale == "ru":
            price = (np.maximum(np.round(raw / 10), 1) * 10 - 1) * 100
        else:
            price = np.maximum(np.round(raw), 1) * 100 - 1
        margin = rng.uniform(0.2, 0.6, len(eur))
        # Sorted by first-year price so an order can look up a product near a wanted price.
        order = np.argsort(price[:, 0], kind="stable")
        self.product_price = price[order].astype(np.int64)  # cents, [product, year]
        self.product_cost = np.round(price[order] * (1 - margin[order])[:, None] * 100).astype(
            np.int64
        )  # 1/10000 of the currency unit
        self.product_category = cat[order]
        self.product_by_weight = np.array([c[4] for c in CATEGORIES])[cat[order]]
        self.category_names = [c[1] if self.locale == "ru" else c[0] for c in CATEGORIES]

    def _managers(self, rng: np.random.Generator) -> None:
        n = max(3, self.customers // 400)
        n_key = max(1, round(0.25 * n))
        # Key-account managers (group 0) serve VIP/A customers with small books.
        self.manager_group = np.ones(n, dtype=np.int64)
        self.manager_group[rng.permutation(n)[:n_key]] = 0
        self.manager_diligence = rng.uniform(0.6, 0.98, n)
        self.manager_weight = rng.lognormal(0, 0.35, n)
        self.manager_leaves = np.full(n, np.inf)
        # ~10% leave mid-window; the first manager of each group always stays.
        anchors = {int(np.flatnonzero(self.manager_group == g)[0]) for g in (0, 1)}
        movable = np.array([m for m in range(n) if m not in anchors])
        leavers = rng.permutation(movable)[: round(0.1 * n)]
        self.manager_leaves[leavers] = rng.uniform(0.2, 0.85, len(leavers)) * self.days
        self.manager_names, local = names.people(rng, n, self.locale)
        domain = "torgdom.example" if self.locale == "ru" else "retailco.example"
        self.manager_emails = [f"{lp}@{domain}" for lp in local]

    def _tier_cuts(self, rng: np.random.Generator, n: int = 200_000) -> None:
        """Latent-value cut-offs from a reference sample, so every chunk uses the same tiers."""
        lam = rng.gamma(RATE_SHAPE, 1 / RATE_RATE, n)
        spend = SPEND_P / rng.gamma(SPEND_Q, 1 / SPEND_GAMMA, n)
        value = np.where(rng.random(n) < LEAD_SHARE, 0.0, lam * spend)
        self.tier_cuts = np.quantile(value, [1 - s for s in TIER_TOP_SHARES])[::-1]

    def tier_of(self, value: np.ndarray) -> np.ndarray:
        return 3 - np.searchsorted(self.tier_cuts, value, side="right")

    # -- time ----------------------------------------------------------------------------
    def clock(self, t: np.ndarray, office: bool = False) -> np.ndarray:
        """Seconds since the window start: same day as `t`, time of day by the hour profile."""
        day = np.floor(t)
        cdf = self.office_cdf if office else self.shop_cdf
        sec = np.minimum(np.interp(t - day, cdf, self.hour_grid) * DAY, DAY - 1)
        return day.astype(np.int64) * DAY + sec.astype(np.int64)

    def workday(self, t: np.ndarray) -> np.ndarray:
        """Move weekend times to Monday (staff work Monday to Friday)."""
        dow = self.weekday[np.clip(np.floor(t).astype(np.int64), 0, self.days - 1)]
        return t + np.select([dow == 5, dow == 6], [2.0, 1.0], 0.0)

    def seasonal_time(self, t: np.ndarray) -> np.ndarray:
        """Operational time: a unit-rate Poisson process in it has the seasonal rate in `t`."""
        return np.interp(t, np.arange(self.days + 1), self.cum_season)

    def calendar_time(self, s: np.ndarray) -> np.ndarray:
        return np.interp(s, self.cum_season, np.arange(self.days + 1))

    def assign_managers(
        self, rng: np.random.Generator, group: np.ndarray, t: np.ndarray, stayers_only: bool = False
    ) -> np.ndarray:
        """Weighted pick from the group's managers still employed at `t` (rejection sampling)."""
        out = np.full(len(group), -1, dtype=np.int64)
        for g in (0, 1):
            members = np.flatnonzero(self.manager_group == g)
            w = self.manager_weight[members] / self.manager_weight[members].sum()
            todo = np.flatnonzero(group == g)
            while len(todo):
                pick = members[rng.choice(len(members), len(todo), p=w)]
                leaves = self.manager_leaves[pick]
                ok = np.isinf(leaves) if stayers_only else leaves > t[todo]
                out[todo[ok]] = pick[ok]
                todo = todo[~ok]
        return out

    def timestamps(self, sec: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
        start = np.datetime64(self.start, "s")
        return pa.array(
            start + sec.astype("timedelta64[s]"),
            pa.timestamp("s"),
            mask=None if valid is None else ~valid,
        )

    def day_column(self, sec: np.ndarray) -> pa.Array:
        epoch_days = (self.start - date(1970, 1, 1)).days
        return pa.array((sec // DAY + epoch_days).astype(np.int32), pa.int32()).cast(pa.date32())

    def managers_table(self) -> pa.Table:
        """All managers on the first day; a second version when one leaves."""
        n = len(self.manager_group)
        ids = np.arange(1, n + 1)
        left = np.isfinite(self.manager_leaves)
        first = np.minimum(9 * 3600 + np.arange(n) * 60, DAY - 1)  # set up one by one at 9:00
        sec = np.concatenate([first, self.clock(self.workday(self.manager_leaves[left]), True)])
        keep = sec < self.end_sec
        idx = np.concatenate([np.arange(n), np.flatnonzero(left)])[keep]
        active = np.concatenate([np.ones(n, bool), np.zeros(left.sum(), bool)])[keep]
        sec = sec[keep]
        return pa.table(
            {
                "manager_id": ids[idx],
                "name": pa.array(self.manager_names).take(idx),
                "email": pa.array(self.manager_emails).take(idx),
                "is_active": active,
                "updated_at": self.timestamps(sec),
                "day": self.day_column(sec),
            }
        )


@dataclass
class Counters:
    """Last id handed out per entity, carried from chunk to chunk."""

    order: int = 0
    activity: int = 0
    ticket: int = 0


@dataclass
class Chunk:
    tables: dict[str, pa.Table]
    truth: pa.Table


def _codes(values: tuple[str, ...] | list[str], idx: np.ndarray) -> pa.Array:
    return pa.array(list(values)).take(pa.array(idx))


def simulate_chunk(world: World, chunk_no: int, first: int, n: int, ids: Counters) -> Chunk:
    """Simulate customers `first`..`first+n-1` (0-based) and everything they do."""
    rng = np.random.default_rng([world.seed, 1, chunk_no])
    days = world.days
    gidx = first + np.arange(n)

    # Stratified sign-up times: customer ids increase with created_at, as in a CRM.
    u = (gidx + rng.random(n)) / world.customers
    created_t = days * np.log1p(u * np.expm1(GROWTH)) / GROWTH
    created_sec = world.clock(created_t)
    lead = rng.random(n) < LEAD_SHARE
    lam = rng.gamma(RATE_SHAPE, 1 / RATE_RATE, n)
    drop_p = rng.beta(DROP_A, DROP_B, n)
    mean_spend = SPEND_P / rng.gamma(SPEND_Q, 1 / SPEND_GAMMA, n)  # EUR
    tier = np.where(lead, 3, world.tier_of(lam * mean_spend))
    key_account = tier <= 1

    card = _customer_card(world, rng, n, gidx, tier, created_t, created_sec)
    buy = _purchases(world, rng, lead, created_t, lam, drop_p)
    buy["global_id"] = gidx + 1
    orders, lines, order_t = _orders(world, rng, buy, tier, mean_spend, ids)
    tickets = _tickets(world, rng, buy, order_t, lead, created_t, ids)
    activities = _activities(world, rng, buy, order_t, card, tier, key_account, created_t, ids)

    dropout_at = buy["dropout_t"]
    seen = np.isfinite(dropout_at) & (dropout_at < days)
    truth = pa.table(
        {
            "customer_id": pa.array([f"C{i + 1:07d}" for i in gidx]),
            "tier": _codes(TIERS, tier),
            "purchase_rate_per_day": lam,
            "dropout_prob": drop_p,
            "mean_spend": np.round(mean_spend * world.fx, 2),
            "dropout_at": world.timestamps(world.clock(np.where(seen, dropout_at, 0.0)), seen),
            "never_ordered": buy["n_orders"] == 0,
        }
    )
    return Chunk(
        tables={
            contract.CUSTOMERS.table: card["table"],
            contract.ACTIVITIES.table: activities,
            contract.ORDERS.table: orders,
            contract.ORDER_LINES.table: lines,
            contract.TICKETS.table: tickets,
        },
        truth=truth,
    )


def _customer_card(world: World, rng, n, gidx, tier, created_t, created_sec) -> dict:
    """Customer cards and their versions; returns the table plus timelines for activities."""
    locale, days = world.locale, world.days
    person, local = names.people(rng, n, locale)
    email = names.emails(rng, local, locale)
    has_email = rng.random(n) >= 0.06
    country = names.countries(rng, n, locale)
    city = names.cities(rng, country, locale)
    b2b = rng.random(n) < np.where(tier <= 1, 0.6, 0.38)
    company = names.companies(rng, person, locale)
    referred = (rng.random(n) < REFERRAL_SHARE) & (gidx > 0)
    referrer = np.floor(rng.random(n) * gidx).astype(np.int64) + 1  # an earlier customer
    channels = contract.ACQUISITION_CHANNELS
    acq = np.where(
        referred,
        channels.index("referral"),
        rng.choice(len(channels), n, p=_p(ACQUISITION_P, channels)),
    )
    pref = rng.choice(
        len(contract.PREFERRED_CHANNELS), n, p=_p(PREFERRED_P, contract.PREFERRED_CHANNELS)
    )
    dnc = rng.random(n) < 0.03
    consent = rng.random(n) < np.where(dnc, 0.1, 0.72)
    is_vip = rng.random(n) < np.select([tier == 0, tier == 1], [0.5, 0.02], 0.0)
    group = np.where(tier <= 1, 0, 1)
    manager = world.assign_managers(rng, group, created_t)

    # Card changes: consent flip, phone change, manager reassignment (never twice the same).
    n_upd = rng.choice(3, n, p=(0.85, 0.10, 0.05))
    u_cust = np.repeat(np.arange(n), n_upd)
    kinds = np.argsort(rng.random((n, 3)), axis=1)  # a random permutation of kinds per customer
    u_kind = kinds[u_cust, _grouped_rank(n_upd)]
    span = np.maximum(days - created_t - 1, 0)
    u_t = created_t[u_cust] + 1 + rng.random(len(u_cust)) * span[u_cust]
    first_move = np.full(n, np.inf)
    np.minimum.at(first_move, u_cust[u_kind == 2], u_t[u_kind == 2])
    # A leaving manager's customers are handed over within days, unless already moved.
    leaves = world.manager_leaves[manager]
    forced = (leaves > created_t) & (leaves < np.minimum(first_move, days))
    f_cust = np.flatnonzero(forced)
    f_t = world.workday(leaves[f_cust] + rng.uniform(0, 3, len(f_cust)))

    base_phone = names.phones(rng, country, locale)
    phone_ok = rng.random(n) >= 0.1
    new_phone = names.phones(rng, [country[i] for i in u_cust], locale)

    ev_cust = np.concatenate([np.arange(n), u_cust, f_cust])
    ev_t = np.concatenate([created_t, u_t, f_t])
    ev_kind = np.concatenate([np.full(n, -1), u_kind, np.full(len(f_cust), 2)])
    n_ev = len(ev_cust)
    ev_sec = np.concatenate([created_sec, world.clock(np.concatenate([u_t, f_t]), office=True)])
    # Changes come at least a minute after creation even when the clocks differ that day.
    ev_sec = np.maximum(ev_sec, created_sec[ev_cust] + np.where(ev_kind >= 0, 60, 0))
    new_mgr = np.full(n_ev, -1)
    moves = np.flatnonzero(ev_kind == 2)
    new_mgr[moves] = world.assign_managers(
        rng, group[ev_cust[moves]], ev_t[moves], stayers_only=True
    )
    phone_src = np.concatenate(
        [np.arange(n), n + np.arange(len(u_cust)), np.zeros(len(f_cust), np.int64)]
    )
    order = np.lexsort((ev_sec, ev_cust))  # the base row is each customer's earliest event
    ev_cust, ev_kind, ev_sec, new_mgr, phone_src = (
        a[order] for a in (ev_cust, ev_kind, ev_sec, new_mgr, phone_src)
    )

    def ffill(sets: np.ndarray, values: np.ndarray) -> np.ndarray:
        # Every customer's first event is the base row, which sets every field.
        pos = np.maximum.accumulate(np.where(sets, np.arange(n_ev), 0))
        return values[pos]

    base = ev_kind == -1
    ev_consent = ffill(base | (ev_kind == 0), np.where(base, consent[ev_cust], ~consent[ev_cust]))
    ev_manager = ffill(base | (ev_kind == 2), np.where(base, manager[ev_cust], new_mgr))
    ev_phone = ffill(base | (ev_kind == 1), phone_src)
    ev_phone_ok = ffill(base | (ev_kind == 1), np.where(base, phone_ok[ev_cust], True))

    keep = (ev_sec < world.end_sec) & _last_per_day(ev_cust, ev_sec)
    c, sec = ev_cust[keep], ev_sec[keep]
    rows = pa.array(c)
    phone = pc.if_else(
        pa.array(ev_phone_ok[keep]),
        pa.array(base_phone + new_phone).take(pa.array(ev_phone[keep])),
        pa.scalar(None, pa.string()),
    )
    table = pa.table(
        {
            "customer_id": gidx[c] + 1,
            "name": pa.array(person).take(rows),
            "email": pa.array(email, mask=~has_email).take(rows),
            "phone": phone,
            "company": pa.array(company, mask=~b2b).take(rows),
            "created_at": world.timestamps(created_sec[c]),
            "updated_at": world.timestamps(sec),
            "manager_id": ev_manager[keep] + 1,
            "acquisition_channel": _codes(channels, acq[c]),
            "referred_by_customer_id": pa.array(referrer[c], mask=~referred[c]),
            "preferred_channel": _codes(contract.PREFERRED_CHANNELS, pref[c]),
            "marketing_consent": ev_consent[keep],
            "do_not_contact": dnc[c],
            "city": pa.array(city).take(rows),
            "country": pa.array(country).take(rows),
            "is_vip": is_vip[c],
            "day": world.day_column(sec),
        }
    )
    return {
        "table": table,
        # Timelines (sorted by customer, time) for "who manages / may we mail them at t".
        "ev_cust": ev_cust,
        "ev_sec": ev_sec,
        "ev_manager": ev_manager,
        "ev_consent": ev_consent,
        "pref": pref,
        "dnc": dnc,
        "has_email": has_email,
        "phone_ok": phone_ok,
    }


def _purchases(world: World, rng, lead, created_t, lam, drop_p) -> dict:
    """BG/NBD purchase times per customer; seasonality via a time change of the Poisson process
    (equivalent to thinning a faster process, without drawing candidates that get rejected)."""
    n, days = len(lead), world.days
    first_t = created_t + np.where(
        rng.random(n) < 0.7, rng.exponential(2 / 24, n), rng.exponential(4, n)
    )
    buyer = np.flatnonzero(~lead & (first_t < days))
    k = rng.geometric(drop_p[buyer])  # purchases until the one after which they drop out
    s_first = world.seasonal_time(first_t[buyer])
    ds = world.cum_season[-1] - s_first
    n_cand = rng.poisson(lam[buyer] * ds)
    c = np.repeat(np.arange(len(buyer)), n_cand)
    s = np.repeat(s_first, n_cand) + rng.random(len(c)) * np.repeat(ds, n_cand)
    order = np.lexsort((s, c))
    c, s = c[order], s[order]
    keep = _grouped_rank(n_cand) < (k - 1)[c]

    cust = np.concatenate([buyer, buyer[c[keep]]])
    t = np.concatenate([first_t[buyer], world.calendar_time(s[keep])])
    order = np.lexsort((t, cust))
    cust, t = cust[order], np.minimum(t[order], np.nextafter(days, 0))

    n_orders = np.bincount(cust, minlength=n)
    last_t = np.full(n, np.nan)
    ends = np.cumsum(n_orders[n_orders > 0]) - 1  # each buyer's last purchase
    last_t[cust[ends]] = t[ends]
    dropped = np.zeros(n, bool)
    dropped[buyer] = n_cand >= k - 1
    # The customer quits a while after the last purchase (within their usual purchase gap).
    gap = np.maximum(2.0, rng.uniform(0.3, 1.0, n) * np.minimum(1 / lam, 60))
    dropout_t = np.where(dropped, last_t + gap, np.inf)
    return {
        "cust": cust,
        "t": t,
        "n_orders": n_orders,
        "last_t": last_t,
        "dropout_t": dropout_t,
    }


def _orders(world: World, rng, buy: dict, tier, mean_spend, ids: Counters):
    """Order rows (one per status version and day) and their lines."""
    cust, t0 = buy["cust"], buy["t"]
    no = len(cust)
    order_id = ids.order + 1 + np.arange(no)
    ids.order += no

    key = tier[cust] <= 1
    channels = contract.SALES_CHANNELS
    p_key, p_rest = _p(SALES_P_KEY, channels), _p(SALES_P_REST, channels)
    n_cust = len(tier)
    usual = np.where(
        tier <= 1,
        rng.choice(len(channels), n_cust, p=p_key),
        rng.choice(len(channels), n_cust, p=p_rest),
    )
    other = np.where(
        key, rng.choice(len(channels), no, p=p_key), rng.choice(len(channels), no, p=p_rest)
    )
    channel = np.where(rng.random(no) < 0.75, usual[cust], other)

    # Lines: each aims at a share of the order's Gamma-Gamma value, using a product priced near
    # it, so order totals follow the customer's spend.
    value = rng.gamma(SPEND_P, mean_spend[cust] / SPEND_P) * world.fx * 100  # cents
    n_lines = rng.choice(len(LINE_COUNT_P), no, p=LINE_COUNT_P) + 1
    lo = np.repeat(np.arange(no), n_lines)
    line_no = _grouped_rank(n_lines) + 1
    target = value[lo] / n_lines[lo] * rng.lognormal(0, 0.35, len(lo))
    units = rng.choice(6, len(lo), p=(0.6, 0.22, 0.1, 0.04, 0.02, 0.02)) + 1
    ref = world.product_price[:, 0]
    prod = np.clip(
        np.searchsorted(ref, target / units) + rng.integers(-6, 7, len(lo)), 0, len(ref) - 1
    )
    year = world.year_of_day[np.floor(t0).astype(np.int64)][lo]
    price = world.product_price[prod, year]
    cost = world.product_cost[prod, year]
    weighed = world.product_by_weight[prod]
    qty_milli = np.where(
        weighed,
        np.clip(np.round(target / price * 20) * 50, 250, 5000),
        np.clip(np.round(target / price), 1, 50) * 1000,
    ).astype(np.int64)
    starts = np.cumsum(n_lines) - n_lines
    subtotal = (np.add.reduceat(qty_milli * price, starts) + 500) // 1000  # exact, half-up
    discounted = rng.random(no) < 0.2
    pct = rng.integers(5, 21, no)
    discount = np.where(discounted, (subtotal * pct + 50) // 100, 0)
    total = subtotal - discount

    # Status versions: [placed, completed/cancelled, returned].
    u = rng.random(no)
    cancelled, returned = u < 0.05, (u >= 0.05) & (u < 0.09)
    pending = cancelled | (rng.random(no) < 0.265)
    t_done = np.where(pending & ~cancelled, t0 + rng.uniform(1, 3, no), t0)
    t_mat = np.stack(
        [
            t0,
            np.where(cancelled, t0 + rng.uniform(0, 2, no), t_done),
            t_done + rng.uniform(3, 20, no),
        ],
        axis=1,
    )
    valid = np.stack([np.ones(no, bool), pending, returned], axis=1)
    statuses = contract.ORDER_STATUSES
    s_mat = np.stack(
        [
            np.where(pending, statuses.index("pending"), statuses.index("completed")),
            np.where(cancelled, statuses.index("cancelled"), statuses.index("completed")),
            np.full(no, statuses.index("returned")),
        ],
        axis=1,
    )
    sec_mat = np.stack(
        [
            world.clock(t_mat[:, 0]),
            world.clock(t_mat[:, 1], office=True),
            world.clock(t_mat[:, 2], office=True),
        ],
        axis=1,
    )
    for j in (1, 2):  # a same-day change comes after the previous one even across the clocks
        sec_mat[:, j] = np.maximum(sec_mat[:, j], sec_mat[:, j - 1] + 300)
    valid &= sec_mat < world.end_sec
    vo, stage = np.nonzero(valid)
    sec = sec_mat[vo, stage]
    keep = _last_per_day(vo, sec)
    vo, stage, sec = vo[keep], stage[keep], sec[keep]

    orders = pa.table(
        {
            "order_id": order_id[vo],
            "customer_id": buy["global_id"][cust[vo]],
            "ordered_at": world.timestamps(sec_mat[vo, 0]),
            "updated_at": world.timestamps(sec),
            "status": _codes(statuses, s_mat[vo, stage]),
            "currency": pa.array([world.currency] * len(vo)),
            "total_amount": total[vo],
            "discount_amount": discount[vo],
            "sales_channel": _codes(channels, channel[vo]),
            "day": world.day_column(sec),
        }
    )
    # Every order version in a day's file brings all its lines along.
    rows = starts[vo][np.repeat(np.arange(len(vo)), n_lines[vo])] + _grouped_rank(n_lines[vo])
    row_sec = np.repeat(sec, n_lines[vo])
    lines = pa.table(
        {
            "order_id": order_id[lo[rows]],
            "line_number": line_no[rows],
            "product_id": prod[rows] + 1,
            "category": _codes(world.category_names, world.product_category[prod[rows]]),
            "quantity": qty_milli[rows],
            "unit_price": price[rows],
            "unit_cost": cost[rows],
            "day": world.day_column(row_sec),
        }
    )
    return orders, lines, t0


def _tickets(world: World, rng, buy: dict, order_t, lead, created_t, ids: Counters) -> pa.Table:
    days, n = world.days, len(lead)
    cats, topics = contract.TICKET_CATEGORIES, contract.TICKET_TOPICS
    # Order-related tickets: delivery and quality issues after an order.
    from_order = rng.random(len(order_t)) < TICKET_PER_ORDER
    oc, ot = buy["cust"][from_order], order_t[from_order] + rng.uniform(0.5, 10, from_order.sum())
    # Background tickets while the customer is active (leads ask pre-sales questions).
    active_end = np.minimum(buy["dropout_t"], days)
    span = np.maximum(active_end - created_t, 0)
    nb = rng.poisson(span * TICKET_PER_DAY * np.where(lead, 0.3, 1.0))
    bc = np.repeat(np.arange(n), nb)
    bt = created_t[bc] + rng.random(len(bc)) * span[bc]
    # Before dropping out, most customers complain (or cancel) after their last purchase.
    warn = np.flatnonzero(np.isfinite(buy["dropout_t"]) & (rng.random(n) < PRE_DROPOUT_COMPLAINT))
    last = buy["last_t"][warn]
    wt = last + rng.uniform(0.4, 0.95, len(warn)) * (buy["dropout_t"][warn] - last)

    kind = np.concatenate([np.zeros(len(oc), int), np.ones(len(bc), int), np.full(len(warn), 2)])
    cust = np.concatenate([oc, bc, warn])
    t_open = np.concatenate([ot, bt, wt])
    inside = t_open < days
    kind, cust, t_open = kind[inside], cust[inside], t_open[inside]
    order = np.lexsort((t_open, cust))
    kind, cust, t_open = kind[order], cust[order], t_open[order]
    nt = len(cust)
    ticket_id = ids.ticket + 1 + np.arange(nt)
    ids.ticket += nt

    category = np.select(
        [kind == 0, kind == 1],
        [
            rng.choice(len(cats), nt, p=_p(ORDER_TICKET_CATEGORY, cats)),
            rng.choice(len(cats), nt, p=_p(OTHER_TICKET_CATEGORY, cats)),
        ],
        np.where(rng.random(nt) < 0.75, cats.index("complaint"), cats.index("cancellation")),
    )
    topic_p = (
        {"delivery": 0.45, "quality": 0.3, "price": 0.1, "service": 0.1, "other": 0.05},
        {"price": 0.25, "service": 0.25, "other": 0.25, "quality": 0.15, "delivery": 0.1},
        {"quality": 0.3, "delivery": 0.25, "price": 0.25, "service": 0.2},
    )
    topic = np.choose(kind, [rng.choice(len(topics), nt, p=_p(tp, topics)) for tp in topic_p])
    serious = np.isin(category, [cats.index("complaint"), cats.index("incident")])
    prio = np.where(
        serious,
        rng.choice(4, nt, p=(0.05, 0.45, 0.35, 0.15)),
        rng.choice(4, nt, p=(0.3, 0.55, 0.12, 0.03)),
    )

    # Lifecycle: open -> pending (first response) -> solved [-> reopened -> solved] -> closed.
    t_resp = t_open + 5 / 1440 + rng.exponential(np.array([20, 8, 3, 1])[prio] / 24)
    t_solved = t_resp + 0.05 + rng.exponential(2, nt)
    reopen = rng.random(nt) < 0.08
    # Without a reopen those two stages collapse onto the solve (and are masked out below).
    t_reopen = np.where(reopen, t_solved + rng.uniform(0.5, 3, nt), t_solved)
    t_solved2 = np.where(reopen, t_reopen + 0.05 + rng.exponential(1.5, nt), t_solved)
    t_closed = np.where(reopen, t_solved2, t_solved) + rng.uniform(2, 5, nt)
    t_mat = np.stack([t_open, t_resp, t_solved, t_reopen, t_solved2, t_closed], axis=1)
    # Support works around the clock: stages keep their true distance from the opening.
    sec_mat = world.clock(t_open)[:, None] + np.round((t_mat - t_open[:, None]) * DAY).astype(
        np.int64
    )
    valid = np.ones((nt, 6), bool)
    valid[:, 3:5] = reopen[:, None]
    valid &= sec_mat < world.end_sec
    tix, stage = np.nonzero(valid)
    sec = sec_mat[tix, stage]
    keep = _last_per_day(tix, sec)
    tix, stage, sec = tix[keep], stage[keep], sec[keep]

    # CSAT for ~60% of closed tickets; complaints score lower, pre-dropout ones 1-2.
    score = np.select(
        [kind == 2, np.isin(category, [cats.index("complaint"), cats.index("cancellation")])],
        [rng.integers(1, 3, nt), rng.choice(5, nt, p=(0.25, 0.25, 0.2, 0.15, 0.15)) + 1],
        rng.choice(5, nt, p=(0.06, 0.07, 0.12, 0.3, 0.45)) + 1,
    )
    rated = rng.random(nt) < 0.6
    status_of_stage = np.array(
        [
            contract.TICKET_STATUSES.index(s)
            for s in ("open", "pending", "solved", "open", "solved", "closed")
        ]
    )
    solved_sec = np.where(reopen, sec_mat[:, 4], sec_mat[:, 2])
    closed_sec = np.select(
        [stage == 2, stage == 4, stage == 5], [sec_mat[tix, 2], sec_mat[tix, 4], solved_sec[tix]], 0
    )
    return pa.table(
        {
            "ticket_id": ticket_id[tix],
            "customer_id": buy["global_id"][cust[tix]],
            "opened_at": world.timestamps(sec_mat[tix, 0]),
            "first_response_at": world.timestamps(sec_mat[tix, 1], stage >= 1),
            "closed_at": world.timestamps(closed_sec, np.isin(stage, (2, 4, 5))),
            "updated_at": world.timestamps(sec),
            "status": _codes(contract.TICKET_STATUSES, status_of_stage[stage]),
            "category": _codes(cats, category[tix]),
            "topic": _codes(topics, topic[tix]),
            "priority": _codes(contract.TICKET_PRIORITIES, prio[tix]),
            "satisfaction_score": pa.array(
                score[tix], pa.int32(), mask=~((stage == 5) & rated[tix])
            ),
            "reopen_count": (reopen[tix] & (stage >= 3)).astype(np.int32),
            "day": world.day_column(sec),
        }
    )


def _activities(
    world: World, rng, buy, order_t, card, tier, key_account, created_t, ids: Counters
) -> pa.Table:
    days, n = world.days, len(tier)
    types, outcomes = contract.ACTIVITY_TYPES, contract.ACTIVITY_OUTCOMES
    pref = card["pref"]
    pref_name = np.array(contract.PREFERRED_CHANNELS)[pref]
    dropout_t = buy["dropout_t"]
    parts: list[tuple] = []

    def add(c, t, kind, outbound: bool, by_manager: bool) -> None:
        keep = t < days
        c, t = c[keep], t[keep]
        m = len(c)
        sec = world.clock(t, office=by_manager and outbound)  # staff calls in office hours
        kind = np.broadcast_to(kind, len(keep))[keep]
        parts.append((c, t, sec, kind, np.full(m, outbound), np.full(m, by_manager)))

    # Regulated contacts: a due call or meeting happens with the manager's diligence, often
    # a few days late, and ever more rarely once the customer has silently left.
    for t_code, rules in REGULATION.items():
        members = np.flatnonzero((tier == t_code) & ~card["dnc"])
        for kind, interval in rules:
            slots = np.floor((days - created_t[members]) / interval).astype(np.int64)
            c = np.repeat(members, np.maximum(slots, 0))
            due = created_t[c] + (_grouped_rank(np.maximum(slots, 0)) + 1) * interval
            late = np.where(rng.random(len(c)) < 0.5, rng.exponential(3, len(c)), 0.0)
            t = world.workday(due + late)
            fade = np.exp(-np.maximum(t - dropout_t[c], 0) / 60)
            diligence = world.manager_diligence[_manager_at(card, c, world.clock(t, True))]
            ok = rng.random(len(c)) < diligence * fade
            add(c[ok], t[ok], types.index(kind), True, True)

    # Quarterly newsletters (and SMS to phone-minded customers) to B/C with consent.
    for q_day in _campaign_days(world):
        eligible = np.isin(tier, NEWSLETTER_TIERS) & ~card["dnc"] & (created_t < q_day)
        c = np.flatnonzero(eligible)
        mail = c[card["has_email"][c]]
        t = q_day + 10 / 24 + rng.uniform(0, 2 / 24, len(mail))
        ok = _consent_at(card, mail, world.clock(t))
        add(mail[ok], t[ok], types.index("newsletter"), True, False)
        texts = c[np.isin(pref_name[c], ("sms", "messenger")) & card["phone_ok"][c]]
        t = q_day + 7 + 11 / 24 + rng.uniform(0, 1 / 24, len(texts))
        ok = _consent_at(card, texts, world.clock(t))
        add(texts[ok], t[ok], types.index("sms"), True, False)

    # Key-account managers follow orders up by e-mail.
    fu = (rng.random(len(order_t)) < FOLLOW_UP_PER_ORDER) & key_account[buy["cust"]]
    fu &= ~card["dnc"][buy["cust"]]
    add(
        buy["cust"][fu],
        world.workday(order_t[fu] + rng.uniform(1, 3, fu.sum())),
        types.index("email"),
        True,
        True,
    )

    # Inbound: around orders and at a low background rate while active.
    ib = rng.random(len(order_t)) < INBOUND_PER_ORDER
    ic = buy["cust"][ib]
    it = order_t[ib] + rng.uniform(-2, 3, ib.sum())
    span = np.maximum(np.minimum(dropout_t, days) - created_t, 0)
    nb = rng.poisson(span * INBOUND_PER_DAY)
    bc = np.repeat(np.arange(n), nb)
    bt = created_t[bc] + rng.random(len(bc)) * span[bc]
    c = np.concatenate([ic, bc])
    t = np.concatenate([it, bt])
    ok = t >= created_t[c]
    c, t = c[ok], t[ok]
    inbound_type = np.array([types.index(x) for x in ("email", "sms", "call", "email")])
    add(c, t, inbound_type[pref[c]], False, True)

    cust, t, sec, kind, outbound, by_manager = (
        np.concatenate([p[i] for p in parts]) for i in range(6)
    )
    order = np.lexsort((kind, sec, cust))
    cust, t, kind, outbound, by_manager, sec = (
        a[order] for a in (cust, t, kind, outbound, by_manager, sec)
    )
    na = len(cust)
    activity_id = ids.activity + 1 + np.arange(na)
    ids.activity += na

    outcome = _outcomes(rng, kind, outbound, pref_name[cust], t > dropout_t[cust])
    manager = np.where(by_manager, _manager_at(card, cust, sec) + 1, 0)
    return pa.table(
        {
            "activity_id": activity_id,
            "customer_id": buy["global_id"][cust],
            "manager_id": pa.array(manager, mask=~by_manager),
            "activity_type": _codes(types, kind),
            "occurred_at": world.timestamps(sec),
            "direction": _codes(("inbound", "outbound"), outbound.astype(np.int64)),
            "outcome": _codes(outcomes, outcome),
            "day": world.day_column(sec),
        }
    )


def _outcomes(rng, kind, outbound, pref_name, gone) -> np.ndarray:
    """Customers answer on their preferred channel; those who have left rarely answer."""
    types, outcomes = contract.ACTIVITY_TYPES, contract.ACTIVITY_OUTCOMES
    m = len(kind)
    u = rng.random(m) * np.where(gone, 2.5, 1.0)  # gone customers slide to the "no" outcomes
    on_pref = np.select(
        [kind == types.index("call"), kind == types.index("meeting"), kind == types.index("sms")],
        [pref_name == "phone", np.ones(m, bool), np.isin(pref_name, ("sms", "messenger"))],
        pref_name == "email",
    )
    out = np.empty(m, np.int64)
    o = outcomes.index
    voice = np.isin(kind, [types.index("call"), types.index("meeting")])
    yes = np.where(kind == types.index("meeting"), 0.9, np.where(on_pref, 0.85, 0.55))
    out[voice] = np.where(u[voice] < yes[voice], o("completed"), o("no_answer"))
    # Written channels: replied / opened / ignored, a few bounces.
    written = ~voice
    replied = np.where(
        kind == types.index("newsletter"),
        np.where(on_pref, 0.03, 0.005),
        np.where(on_pref, 0.45, 0.12),
    )
    opened = replied + np.where(on_pref, 0.4, 0.25)
    bounce = u > 0.97 * np.where(gone, 2.5, 1.0)
    out[written] = np.select(
        [bounce[written], u[written] < replied[written], u[written] < opened[written]],
        [o("bounced"), o("replied"), o("opened")],
        o("ignored"),
    )
    # Inbound contacts are the customer reaching out: they get through.
    inbound = ~outbound
    out[inbound & voice] = np.where(u[inbound & voice] < 0.9, o("completed"), o("no_answer"))
    out[inbound & written] = o("replied")
    return out


def _manager_at(card: dict, cust: np.ndarray, sec: np.ndarray) -> np.ndarray:
    """Manager (0-based) in charge of each customer at second `sec`, per the card versions."""
    return card["ev_manager"][_timeline_pos(card, cust, sec)]


def _consent_at(card: dict, cust: np.ndarray, sec: np.ndarray) -> np.ndarray:
    return card["ev_consent"][_timeline_pos(card, cust, sec)]


def _timeline_pos(card: dict, cust: np.ndarray, sec: np.ndarray) -> np.ndarray:
    span = 1 << 36  # above any second of the window: (customer, sec) pairs compare as one int
    keys = card["ev_cust"] * span + card["ev_sec"]
    pos = np.searchsorted(keys, cust * span + sec, side="right") - 1
    # Before the card existed (a late-night inbound call, say) the first version applies.
    return np.maximum(pos, np.searchsorted(card["ev_cust"], cust))


def _campaign_days(world: World) -> list[float]:
    """Newsletter days: the second Tuesday of Feb, May, Aug and Nov."""
    out = []
    for i in range(world.days):
        d = world.start + timedelta(days=i)
        if d.month in (2, 5, 8, 11) and d.weekday() == 1 and 8 <= d.day <= 14:
            out.append(float(i))
    return out
