"""Every model, imported in one place so that the metadata (and Alembic) sees all tables."""

from matchmaker.accounts.models import ApiToken, User, user_regions
from matchmaker.audit.models import AuditLog, OutboxEvent
from matchmaker.banks.models import Bank, BankBranch, bank_regions
from matchmaker.claims.models import Claim, ClaimEvent, Rating
from matchmaker.enterprises.models import Enterprise
from matchmaker.needs.models import Need, NeedRevision
from matchmaker.notifications.models import Notification
from matchmaker.office.models import ClaimFacts, NeedFacts, Office
from matchmaker.products.models import Product, product_categories, product_regions
from matchmaker.reference.models import GreenCategory, Industry, Region

__all__ = [
    "ApiToken", "AuditLog", "Bank", "BankBranch", "Claim", "ClaimEvent", "ClaimFacts", "Enterprise",
    "GreenCategory", "Industry", "Need", "NeedFacts", "NeedRevision", "Notification", "Office",
    "OutboxEvent",
    "Product", "Rating", "Region", "User", "bank_regions", "product_categories",
    "product_regions", "user_regions",
]
