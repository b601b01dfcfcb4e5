"""The source contract: every entity the platform ingests, as data.

One definition serves the loader (typing, row rules, raw DDL), the demo generator (what it
writes), the PostgreSQL source (what it selects) and the docs test (CONTRACT.md must describe
every column listed here). Types are DuckDB logical types of the raw layer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Lowest plausible business date; anything earlier is a typo or an epoch default.
DATE_FLOOR = "2000-01-01"


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    required: bool = False
    allowed: tuple[str, ...] | None = None
    description: str = ""

    @property
    def is_numeric(self) -> bool:
        return self.type.startswith(("DECIMAL", "DOUBLE", "INTEGER", "BIGINT"))


@dataclass(frozen=True)
class Entity:
    source: str
    name: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    # Column whose latest value wins when one key arrives in several files.
    version_column: str | None = None
    description: str = ""
    aliases: dict[str, str] = field(default_factory=dict)

    @property
    def table(self) -> str:
        """Raw table name in the `raw` schema, e.g. ``crm_customers``."""
        return f"{self.source}_{self.name}"

    @property
    def qualified_name(self) -> str:
        return f"{self.source}.{self.name}"

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


PREFERRED_CHANNELS = ("email", "sms", "phone", "messenger")
ACQUISITION_CHANNELS = (
    "organic",
    "paid_search",
    "social",
    "referral",
    "email",
    "partner",
    "offline",
    "marketplace",
)
ACTIVITY_TYPES = ("call", "meeting", "email", "newsletter", "sms")
ACTIVITY_OUTCOMES = ("completed", "no_answer", "replied", "opened", "ignored", "bounced")
ORDER_STATUSES = ("completed", "cancelled", "returned", "pending")
SALES_CHANNELS = ("web", "app", "store", "phone", "marketplace", "manager")
TICKET_STATUSES = ("open", "pending", "solved", "closed")
TICKET_CATEGORIES = ("complaint", "question", "incident", "request", "cancellation")
TICKET_TOPICS = ("price", "quality", "delivery", "service", "other")
TICKET_PRIORITIES = ("low", "normal", "high", "urgent")

MONEY = "DECIMAL(18,2)"
UNIT_MONEY = "DECIMAL(18,4)"

CUSTOMERS = Entity(
    source="crm",
    name="customers",
    key=("customer_id",),
    version_column="updated_at",
    description="Customer cards from the CRM; a changed card is re-exported whole.",
    columns=(
        Column("customer_id", "VARCHAR", True, description="CRM customer id"),
        Column("name", "VARCHAR", True, description="Person or contact name"),
        Column("email", "VARCHAR", description="Primary e-mail"),
        Column("phone", "VARCHAR", description="Primary phone as typed in the CRM"),
        Column("company", "VARCHAR", description="Company for B2B customers"),
        Column("created_at", "TIMESTAMP", True, description="When the card was created"),
        Column("updated_at", "TIMESTAMP", True, description="Last change of the card"),
        Column("manager_id", "VARCHAR", description="Responsible manager"),
        Column(
            "acquisition_channel",
            "VARCHAR",
            allowed=ACQUISITION_CHANNELS,
            description="How the customer came",
        ),
        Column("referred_by_customer_id", "VARCHAR", description="Referrer, if referred"),
        Column(
            "preferred_channel",
            "VARCHAR",
            allowed=PREFERRED_CHANNELS,
            description="Channel the customer asked to be contacted by",
        ),
        Column("marketing_consent", "BOOLEAN", True, description="Opted in to marketing"),
        Column("do_not_contact", "BOOLEAN", True, description="Must not be contacted at all"),
        Column("city", "VARCHAR", description="City"),
        Column("country", "VARCHAR", description="ISO 3166-1 alpha-2 country code"),
        Column("is_vip", "BOOLEAN", description="VIP flag set by hand in the CRM"),
    ),
)

MANAGERS = Entity(
    source="crm",
    name="managers",
    key=("manager_id",),
    version_column="updated_at",
    description="Account managers (CRM users).",
    columns=(
        Column("manager_id", "VARCHAR", True, description="CRM user id"),
        Column("name", "VARCHAR", True, description="Full name"),
        Column("email", "VARCHAR", description="Work e-mail"),
        Column("is_active", "BOOLEAN", True, description="Still employed and assignable"),
        Column("updated_at", "TIMESTAMP", description="Last change of the user record"),
    ),
)

ACTIVITIES = Entity(
    source="crm",
    name="activities",
    key=("activity_id",),
    description="Contacts logged in the CRM: calls, meetings, e-mails, newsletters, SMS.",
    columns=(
        Column("activity_id", "VARCHAR", True, description="CRM activity id"),
        Column("customer_id", "VARCHAR", True, description="Customer contacted"),
        Column("manager_id", "VARCHAR", description="Manager who made or owns the contact"),
        Column("activity_type", "VARCHAR", True, allowed=ACTIVITY_TYPES, description="Kind"),
        Column("occurred_at", "TIMESTAMP", True, description="When it happened"),
        Column(
            "direction", "VARCHAR", allowed=("inbound", "outbound"), description="Who initiated it"
        ),
        Column(
            "outcome",
            "VARCHAR",
            allowed=ACTIVITY_OUTCOMES,
            description="Result: reached, replied, ignored …",
        ),
    ),
)

ORDERS = Entity(
    source="orders",
    name="orders",
    key=("order_id",),
    version_column="updated_at",
    description="Order headers; an order is re-exported whenever its status changes.",
    columns=(
        Column("order_id", "VARCHAR", True, description="Order id"),
        Column("customer_id", "VARCHAR", True, description="Buyer"),
        Column("ordered_at", "TIMESTAMP", True, description="When the order was placed"),
        Column("updated_at", "TIMESTAMP", True, description="Last status change"),
        Column("status", "VARCHAR", True, allowed=ORDER_STATUSES, description="Order status"),
        Column("currency", "VARCHAR", True, description="ISO 4217 code, e.g. RUB, EUR"),
        Column("total_amount", MONEY, True, description="Amount charged, after discount"),
        Column("discount_amount", MONEY, description="Discount granted"),
        Column("sales_channel", "VARCHAR", allowed=SALES_CHANNELS, description="Where sold"),
    ),
)

ORDER_LINES = Entity(
    source="orders",
    name="order_lines",
    key=("order_id", "line_number"),
    description="Order lines; all lines of an order are re-exported with the order.",
    columns=(
        Column("order_id", "VARCHAR", True, description="Order the line belongs to"),
        Column("line_number", "INTEGER", True, description="Position within the order"),
        Column("product_id", "VARCHAR", True, description="Product (SKU)"),
        Column("category", "VARCHAR", description="Product category"),
        Column("quantity", "DECIMAL(18,3)", True, description="Units sold"),
        Column("unit_price", UNIT_MONEY, True, description="Price per unit charged"),
        Column("unit_cost", UNIT_MONEY, description="Cost per unit, for margin"),
    ),
)

TICKETS = Entity(
    source="support",
    name="tickets",
    key=("ticket_id",),
    version_column="updated_at",
    description="Support tickets; a ticket is re-exported whenever it changes.",
    columns=(
        Column("ticket_id", "VARCHAR", True, description="Ticket id"),
        Column("customer_id", "VARCHAR", True, description="Customer who raised it"),
        Column("opened_at", "TIMESTAMP", True, description="When it was opened"),
        Column("first_response_at", "TIMESTAMP", description="First agent response"),
        Column("closed_at", "TIMESTAMP", description="When it was solved or closed"),
        Column("updated_at", "TIMESTAMP", True, description="Last change"),
        Column("status", "VARCHAR", True, allowed=TICKET_STATUSES, description="Status"),
        Column("category", "VARCHAR", True, allowed=TICKET_CATEGORIES, description="Kind"),
        Column("topic", "VARCHAR", allowed=TICKET_TOPICS, description="What it is about"),
        Column("priority", "VARCHAR", allowed=TICKET_PRIORITIES, description="Priority"),
        Column("satisfaction_score", "INTEGER", description="CSAT 1–5 after closing"),
        Column("reopen_count", "INTEGER", description="Times reopened"),
    ),
)

ENTITIES: tuple[Entity, ...] = (CUSTOMERS, MANAGERS, ACTIVITIES, ORDERS, ORDER_LINES, TICKETS)
BY_TABLE: dict[str, Entity] = {e.table: e for e in ENTITIES}


def entity(table_or_qualified: str) -> Entity:
    """Look an entity up by raw table (``crm_customers``) or ``crm.customers``."""
    return BY_TABLE[table_or_qualified.replace(".", "_")]
