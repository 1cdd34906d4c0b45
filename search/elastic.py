"""The Elasticsearch engine: the same interface and the same results as the embedded engine.

Server: Elasticsearch **8.x**. The client is pinned `elasticsearch>=8.15,<9` (setup.cfg) and the
8.x client speaks to 8.x servers; everything below uses only 8.x APIs (typed keyword arguments, no
`body=`), and nothing newer than 7.10 (`require_alias`).

Indices and aliases. Each kind of document lives in a versioned index behind an alias:

    <prefix>-products  ->  <prefix>-products-<time_ns>
    <prefix>-needs     ->  <prefix>-needs-<time_ns>
    <prefix>-meta          (one small index: the product generation counter, see below)

Reads and single-document writes go through the aliases (writes with `require_alias`, so a
missing alias is an error rather than a dynamically mapped index made by auto-create). On first
use an absent alias is created with an empty index `<alias>-0` (a fixed name, so two processes
starting at once cannot both create one). `rebuild` creates NEW indices with explicit mappings
(`dynamic: strict`) and `refresh_interval: -1`, bulk-loads them, restores `refresh_interval: 1s`,
refreshes, then moves both aliases in ONE `update_aliases` call (atomic: a reader sees the old
pair or the new pair) and deletes the indices the aliases pointed to before. A change written to
the old index while a rebuild runs is lost with it, as in the embedded engine; `check()` reports
such drift and the outbox or a new rebuild repairs it.

Single-document writes (the outbox handlers) use `refresh="wait_for"`: when the handler returns,
the change is visible to searches. Errors propagate (BulkIndexError, ApiError, ConnectionError):
the outbox counts the attempt and retries the row.

What is scored where.
- Eligibility (search.features.is_eligible) is expressed entirely as `filter` clauses, so
  Elasticsearch returns exactly the eligible candidates (and the Python side re-checks them).
  Coverage uses the code levels: a product covers a need when one of its codes is among the
  need's ancestors (need → products); for the inbox, one clause per product compares the need's
  level fields (cat1/cat2/cat3, reg1/reg2/reg3) with the product's codes at their level.
- need → products: Elasticsearch ranks with `function_score`: BM25 (k1=1.2, b=0.75, set on the
  fields' similarity) of the need's tokens against the product's `tokens` field, combined in a
  Painless `script_score` over doc values and params with every other feature and WEIGHTS
  (category closeness, collateral, amount position on a log scale, rate fit, locality from the
  bank's branch regions, service). Lucene's BM25 differs slightly from search.features.TextStats
  (no (k1+1) factor, which the script multiplies back; one-byte document-length norms; deleted
  documents still counted until merged), so Elasticsearch's order is the *candidate* order. All
  eligible candidates are fetched (up to index.max_result_window = 10,000) and re-scored in Python
  with search.features.score, using a TextStats built from the whole product corpus: the
  returned order, scores and reasons are exactly the embedded engine's.
- bank → needs (the inbox): Elasticsearch filters (status, grabs under the cap, the manager's
  filters, and one named clause per active product of the bank, so each hit says which products
  matched) and pages through every eligible need with `search_after`; the Python side scores
  each need with its best product (freshness included), sorts, and gives reasons for the page.
  Every eligible need has to be scored to give the total and the order exactly, so
  Elasticsearch scoring would be wasted work there; it sorts by id for paging.

The product corpus (documents and BM25 statistics) is cached per process, keyed by the alias's
current index and a generation counter kept in `<prefix>-meta` (bumped after every product write,
read with a real-time GET), so a write in an RQ worker invalidates the cache of every web
process, as the generation row in the embedded engine's file does.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from itertools import islice

from elasticsearch import ApiError, Elasticsearch, NotFoundError, helpers

from matchmaker.database import utcnow
from matchmaker.reference.codes import category_ancestors, region_ancestors
from search.documents import (
    INBOX_STATUSES,
    NeedDoc,
    ProductDoc,
    category_levels,
    code_level,
    region_levels,
)
from search.embedded import cents
from search.features import (
    BM25_B,
    BM25_HALF,
    BM25_K1,
    CATEGORY_CLOSENESS,
    WEIGHTS,
    Match,
    TextStats,
    is_eligible,
    rank_products,
    score,
    total,
)

KINDS = ("products", "needs")
PREFIX_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,200}$")
MAX_WINDOW = 10_000  # index.max_result_window: the most one search returns
INBOX_PAGE = 5_000
SIMILARITY = "greenmatch_bm25"
TOKENS_ANALYZER = "greenmatch_tokens"

SETTINGS = {
    "number_of_shards": 1,  # one shard: BM25 statistics are those of the whole corpus
    # A replica on every other node when there is one (a single-node cluster stays green).
    "auto_expand_replicas": "0-1",
    "similarity": {SIMILARITY: {"type": "BM25", "k1": BM25_K1, "b": BM25_B}},
    "analysis": {
        # Our jieba tokens joined by spaces (search.tokenizer.analyzed): split on whitespace
        # and nothing else, so Elasticsearch indexes exactly the tokens the embedded engine does.
        "analyzer": {TOKENS_ANALYZER: {"type": "custom", "tokenizer": "whitespace"}},
    },
}
TOKENS = {"type": "text", "analyzer": TOKENS_ANALYZER, "similarity": SIMILARITY}
# Fallback text search by CJK bigrams, independent of jieba's segmentation. The documents carry
# the name/title and the segmented words (not the raw description), so that is what it indexes.
TEXT_CJK = {"type": "text", "analyzer": "cjk", "similarity": SIMILARITY}
KEYWORD = {"type": "keyword"}
LONG = {"type": "long"}
INTEGER = {"type": "integer"}
RATE = {"type": "scaled_float", "scaling_factor": 100}  # % a year, two places, like the column
STORED_DOC = {"type": "object", "enabled": False}  # kept in _source, never indexed

MAPPINGS = {
    "products": {
        "dynamic": "strict",
        "properties": {
            "id": LONG, "bank_id": LONG, "active": {"type": "boolean"},
            "min_amount": LONG, "max_amount": LONG,  # hundredths of 万元 (exact integers)
            "min_term": INTEGER, "max_term": INTEGER,
            "rate_min": RATE, "rate_max": RATE,
            "worst_env_rank": INTEGER,
            "categories": KEYWORD, "regions": KEYWORD, "sizes": KEYWORD, "collateral": KEYWORD,
            "accepts_credit": {"type": "boolean"},
            "branch_regions": KEYWORD, "bank_service": {"type": "double"},
            "tokens": TOKENS, "text_cjk": TEXT_CJK,
            "version": KEYWORD, "doc": STORED_DOC,
        },
    },
    "needs": {
        "dynamic": "strict",
        "properties": {
            "id": LONG, "status": KEYWORD, "enterprise_id": LONG,
            "amount": LONG, "term": INTEGER,  # amount in hundredths of 万元
            "category": KEYWORD, "cat1": KEYWORD, "cat2": KEYWORD, "cat3": KEYWORD,
            "region": KEYWORD, "reg1": KEYWORD, "reg2": KEYWORD, "reg3": KEYWORD,
            "size": KEYWORD, "env_rank": INTEGER, "collateral": KEYWORD, "rate_cap": RATE,
            "published_at": {"type": "date"},
            "claims_count": INTEGER, "claimed_bank_ids": LONG,
            "tokens": TOKENS, "text_cjk": TEXT_CJK,
            "version": KEYWORD, "doc": STORED_DOC,
        },
    },
}
META_MAPPINGS = {"dynamic": "strict", "properties": {"generation": LONG}}

# need → products: every feature but text from doc values, text from the BM25 `_score` of the
# query's `should` clause. Mirrors search.features (features/score); Python has the last word.
RANK_SCRIPT = """
double t = _score * params.bm25_scale;
double total = params.w_text * t / (t + params.bm25_half);

def cats = doc['categories'];
double category = 0.0;
boolean found = false;
for (int i = 0; i < params.chain.size() && !found; ++i) {
  if (cats.contains(params.chain[i])) { category = params.closeness[i]; found = true; }
}
if (!found) {
  String below = params.category + '.';
  for (def c : cats) { if (c.startsWith(below)) { category = 0.5; break; } }
}
total += params.w_category * category;

double collateral = 0.0;
for (def c : doc['collateral']) {
  if (!c.equals('credit') && params.collateral.contains(c)) { collateral = 1.0; break; }
}
if (collateral == 0.0 && doc['accepts_credit'].size() > 0 && doc['accepts_credit'].value) {
  collateral = 0.5;
}
total += params.w_collateral * collateral;

double low = doc['min_amount'].value;
double high = doc['max_amount'].value;
if (low < 1.0) { low = 1.0; }
double amountFit = 1.0;
if (high > low) {
  double a = params.amount;
  double position = (Math.log(a) - Math.log(low)) / (Math.log(high) - Math.log(low));
  position = Math.min(Math.max(position, 0.0), 1.0);
  amountFit = 1.0 - 0.6 * Math.abs(2.0 * position - 1.0);
}
total += params.w_amount * amountFit;

double rate = 0.5;
if (params.rate_cap != null) {
  double cap = params.rate_cap;
  double rmin = doc['rate_min'].value;
  double rmax = doc['rate_max'].value;
  if (rmin > cap) { rate = 0.0; }
  else if (rmax <= cap) { rate = 1.0; }
  else { rate = (cap - rmin) / (rmax - rmin); }
}
total += params.w_rate * rate;

double near = 0.0;
def branches = doc['branch_regions'];
if (branches.contains(params.region)) { near = 1.0; }
else if (params.prefecture.length() == 4) {
  for (def b : branches) { if (b.startsWith(params.prefecture)) { near = 0.5; break; } }
}
total += params.w_locality * near;

double service = doc['bank_service'].size() > 0 ? doc['bank_service'].value : 0.5;
total += params.w_service * Math.min(Math.max(service, 0.0), 1.0);
return total;
"""
GENERATION_SCRIPT = "ctx._source.generation += 1"


class ElasticsearchEngine:
    name = "elasticsearch"

    def __init__(self, url: str, prefix: str = "greenmatch", *,
                 client: Elasticsearch | None = None, request_timeout: float = 10):
        if not PREFIX_RE.match(prefix):
            raise ValueError(f"index prefix {prefix!r}: use lower-case letters, digits, - _ .")
        self.prefix = prefix
        self.client = client or Elasticsearch(url, request_timeout=request_timeout,
                                              retry_on_timeout=True, max_retries=3)
        self._stats_lock = threading.Lock()
        self._stats: dict[tuple[str, int], tuple[TextStats, dict[int, ProductDoc]]] = {}
        self._meta_ready = False

    # --- names, indices and aliases ----------------------------------------------------

    def alias(self, kind: str) -> str:
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}")
        return f"{self.prefix}-{kind}"

    @property
    def meta_index(self) -> str:
        return f"{self.prefix}-meta"

    def current_index(self, kind: str) -> str:
        """The index the kind's alias points to; creates an empty one on first use."""
        alias = self.alias(kind)
        targets = self._alias_targets(alias)
        if not targets:
            self._create_index(kind, f"{alias}-0", alias=alias, exist_ok=True)
            targets = self._alias_targets(alias)
        if len(targets) != 1:
            raise RuntimeError(f"alias {alias} points to {targets or 'nothing'}, not one index")
        return targets[0]

    def current_indices(self) -> dict[str, str]:
        return {kind: self.current_index(kind) for kind in KINDS}

    def _alias_targets(self, alias: str) -> list[str]:
        try:
            response = self.client.indices.get_alias(name=alias)
        except NotFoundError:
            return []
        return sorted(response.body)

    def _create_index(self, kind: str, name: str, *, alias: str | None = None,
                      refresh_interval: str = "1s", exist_ok: bool = False) -> None:
        try:
            self.client.indices.create(
                index=name,
                settings={**SETTINGS, "refresh_interval": refresh_interval},
                mappings=MAPPINGS[kind],
                aliases={alias: {}} if alias else None,
            )
        except ApiError as exc:
            if not (exist_ok and _error_type(exc) == "resource_already_exists_exception"):
                raise

    def _ensure_meta(self) -> None:
        if self._meta_ready:
            return
        try:
            self.client.indices.create(
                index=self.meta_index,
                settings={"number_of_shards": 1, "auto_expand_replicas": "0-1"},
                mappings=META_MAPPINGS)
        except ApiError as exc:
            if _error_type(exc) != "resource_already_exists_exception":
                raise
        self._meta_ready = True

    def drop(self) -> list[str]:
        """Delete every index of this prefix (tests, decommissioning). Returns their names."""
        pattern = re.compile(rf"^{re.escape(self.prefix)}-(?:(?:products|needs)-\d+|meta)$")
        try:
            found = list(self.client.indices.get(index=f"{self.prefix}-*",
                                                 expand_wildcards="open,closed").body)
        except NotFoundError:
            found = []
        names = sorted(name for name in found if pattern.match(name))
        if names:  # by name: destructive_requires_name refuses wildcard deletes
            self.client.indices.delete(index=",".join(names), ignore_unavailable=True)
        self._meta_ready = False
        self._stats = {}
        return names

    def close(self) -> None:
        self.client.close()

    # --- generation of the product corpus ---------------------------------------------

    def _generation(self) -> int:
        self._ensure_meta()
        response = self.client.options(ignore_status=404).get(index=self.meta_index,
                                                              id="products")
        if not response.body.get("found"):
            return 0
        return int(response["_source"]["generation"])

    def _bump_generation(self) -> None:
        self._ensure_meta()
        self.client.update(index=self.meta_index, id="products",
                           script={"source": GENERATION_SCRIPT, "lang": "painless"},
                           upsert={"generation": 1}, retry_on_conflict=10)

    # --- documents -----------------------------------------------------------------------

    @staticmethod
    def product_source(doc: ProductDoc) -> dict:
        return {
            "id": doc.id, "bank_id": doc.bank_id, "active": bool(doc.active),
            "min_amount": cents(doc.min_amount_wan), "max_amount": cents(doc.max_amount_wan),
            "min_term": doc.min_term_months, "max_term": doc.max_term_months,
            "rate_min": float(doc.rate_min), "rate_max": float(doc.rate_max),
            "worst_env_rank": doc.worst_env_rank,
            "categories": list(doc.categories), "regions": list(doc.regions),
            "sizes": list(doc.sizes), "collateral": list(doc.collateral),
            "accepts_credit": doc.accepts_credit,
            "branch_regions": list(doc.branch_regions), "bank_service": float(doc.bank_service),
            "tokens": " ".join(doc.tokens), "text_cjk": f"{doc.name} {' '.join(doc.tokens)}",
            "version": doc.version, "doc": doc.to_json(),
        }

    @staticmethod
    def need_source(doc: NeedDoc) -> dict:
        c1, c2, c3 = category_levels(doc.category)
        r1, r2, r3 = region_levels(doc.region)
        return {
            "id": doc.id, "status": doc.status, "enterprise_id": doc.enterprise_id,
            "amount": cents(doc.amount_wan), "term": doc.term_months,
            "category": doc.category, "cat1": c1 or None, "cat2": c2 or None, "cat3": c3 or None,
            "region": doc.region, "reg1": r1 or None, "reg2": r2 or None, "reg3": r3 or None,
            "size": doc.size, "env_rank": doc.env_rank, "collateral": list(doc.collateral),
            "rate_cap": float(doc.rate_cap) if doc.rate_cap is not None else None,
            "published_at": doc.published_at.isoformat() if doc.published_at else None,
            "claims_count": doc.claims_count, "claimed_bank_ids": list(doc.claimed_bank_ids),
            "tokens": " ".join(doc.tokens), "text_cjk": f"{doc.title} {' '.join(doc.tokens)}",
            "version": doc.version, "doc": doc.to_json(),
        }

    # --- writing -------------------------------------------------------------------------

    def _write(self, kind: str, sources: Iterable[dict]) -> int:
        self.current_index(kind)  # the alias exists (first use creates it)
        actions = ({"_op_type": "index", "_index": self.alias(kind), "_id": str(source["id"]),
                    "_source": source} for source in sources)
        count, _errors = helpers.bulk(self.client, actions, chunk_size=500,
                                      refresh="wait_for", require_alias=True)
        return count

    def _delete(self, kind: str, doc_id: int) -> None:
        self.current_index(kind)
        self.client.options(ignore_status=404).delete(index=self.alias(kind), id=str(doc_id),
                                                      refresh="wait_for")

    def upsert_products(self, docs: Iterable[ProductDoc]) -> int:
        count = self._write("products", (self.product_source(doc) for doc in docs))
        self._bump_generation()  # after the write is visible: readers reload a complete corpus
        return count

    def delete_product(self, product_id: int) -> None:
        self._delete("products", product_id)
        self._bump_generation()

    def upsert_needs(self, docs: Iterable[NeedDoc]) -> int:
        return self._write("needs", (self.need_source(doc) for doc in docs))

    def delete_need(self, need_id: int) -> None:
        self._delete("needs", need_id)

    def rebuild(self, products: Iterable[ProductDoc], needs: Iterable[NeedDoc],
                progress: Callable[[int], None] | None = None, batch: int = 2000) -> dict:
        """Build new versioned indices from scratch and swap both aliases at once."""
        stamp = time.time_ns()
        names = {kind: f"{self.alias(kind)}-{stamp}" for kind in KINDS}
        created: list[str] = []
        try:
            for kind, name in names.items():
                self._create_index(kind, name, refresh_interval="-1")
                created.append(name)
            product_count = self._load(names["products"],
                                       (self.product_source(doc) for doc in products))
            need_count = 0
            for chunk in _batches(needs, batch):
                need_count += self._load(names["needs"],
                                         (self.need_source(doc) for doc in chunk))
                if progress:
                    progress(len(chunk))
            self.client.indices.put_settings(index=",".join(created),
                                             settings={"index": {"refresh_interval": "1s"}})
            self.client.indices.refresh(index=",".join(created))
            old = {kind: self._alias_targets(self.alias(kind)) for kind in KINDS}
            actions = []
            for kind in KINDS:
                actions += [{"remove": {"index": index, "alias": self.alias(kind)}}
                            for index in old[kind]]
                actions.append({"add": {"index": names[kind], "alias": self.alias(kind)}})
            self.client.indices.update_aliases(actions=actions)
        except BaseException:
            if created:
                self.client.options(ignore_status=404).indices.delete(
                    index=",".join(created), ignore_unavailable=True)
            raise
        retired = sorted({index for indices in old.values() for index in indices} - set(created))
        if retired:
            self.client.options(ignore_status=404).indices.delete(index=",".join(retired),
                                                                  ignore_unavailable=True)
        return {"products": product_count, "needs": need_count, "indices": names}

    def _load(self, index: str, sources: Iterable[dict]) -> int:
        actions = ({"_op_type": "index", "_index": index, "_id": str(source["id"]),
                    "_source": source} for source in sources)
        count, _errors = helpers.bulk(self.client, actions, chunk_size=1000, max_retries=3)
        return count

    # --- reading -------------------------------------------------------------------------

    def _products(self) -> tuple[TextStats, dict[int, ProductDoc]]:
        """All product documents and their BM25 statistics, cached per index and generation."""
        index = self.current_index("products")
        key = (index, self._generation())
        cached = self._stats.get(key)
        if cached is None:
            with self._stats_lock:
                cached = self._stats.get(key)
                if cached is None:
                    docs = {}
                    for hit in helpers.scan(self.client, index=index, size=1000,
                                            query={"query": {"match_all": {}},
                                                   "_source": ["doc"]}):
                        doc = ProductDoc.from_json(hit["_source"]["doc"])
                        docs[doc.id] = doc
                    cached = (TextStats(doc.tokens for doc in docs.values()), docs)
                    self._stats = {key: cached}
        return cached

    def product_doc(self, product_id: int) -> ProductDoc | None:
        data = self._get("products", product_id)
        return ProductDoc.from_json(data) if data is not None else None

    def need_doc(self, need_id: int) -> NeedDoc | None:
        data = self._get("needs", need_id)
        return NeedDoc.from_json(data) if data is not None else None

    def need_docs(self, need_ids: Iterable[int]) -> dict[int, NeedDoc]:
        """The documents of these needs (those in the index)."""
        found = {}
        for need_id in need_ids:
            doc = self.need_doc(need_id)
            if doc is not None:
                found[need_id] = doc
        return found

    def _get(self, kind: str, doc_id: int) -> dict | None:
        response = self.client.options(ignore_status=404).get(
            index=self.alias(kind), id=str(doc_id), source_includes="doc")
        if not response.body.get("found"):
            return None
        return response["_source"]["doc"]

    def rank_products(self, need: NeedDoc, limit: int = 10) -> list[Match]:
        stats, _docs = self._products()
        index = self.alias("products")
        query = self.products_query(need)
        size = max(limit * 5, 200)
        response = self._search_products(index, query, min(size, MAX_WINDOW))
        hits = response["hits"]["hits"]
        total = response["hits"]["total"]["value"]
        if total > len(hits) and len(hits) < MAX_WINDOW:  # every eligible one, for an exact order
            hits = self._search_products(index, query, min(total, MAX_WINDOW))["hits"]["hits"]
        candidates = [ProductDoc.from_json(hit["_source"]["doc"]) for hit in hits]
        return rank_products(need, candidates, stats, limit=limit)

    def _search_products(self, index: str, query: dict, size: int):
        return self.client.search(index=index, query=query, size=size, track_total_hits=True,
                                  sort=[{"_score": "desc"}, {"id": "asc"}], source=["doc"])

    @staticmethod
    def products_query(need: NeedDoc) -> dict:
        """Eligibility as filters; the features of search.features as function_score."""
        amount = cents(need.amount_wan)
        collateral = [{"term": {"accepts_credit": True}}]
        if need.collateral:
            collateral.append({"terms": {"collateral": list(need.collateral)}})
        filters = [
            {"term": {"active": True}},
            {"range": {"min_amount": {"lte": amount}}},
            {"range": {"max_amount": {"gte": amount}}},
            {"range": {"min_term": {"lte": need.term_months}}},
            {"range": {"max_term": {"gte": need.term_months}}},
            {"terms": {"regions": region_ancestors(need.region)}},
            {"terms": {"categories": category_ancestors(need.category)}},
            {"term": {"sizes": need.size}},
            {"range": {"worst_env_rank": {"gte": need.env_rank}}},
            {"bool": {"should": collateral, "minimum_should_match": 1}},
        ]
        words = list(dict.fromkeys(need.tokens))  # BM25 counts each query term once
        should = [{"match": {"tokens": {"query": " ".join(words)}}}] if words else []
        chain = category_ancestors(need.category)
        params = {
            "bm25_scale": BM25_K1 + 1,  # Lucene's BM25 leaves out the (k1 + 1) factor
            "bm25_half": BM25_HALF,
            "chain": chain,
            "closeness": [CATEGORY_CLOSENESS.get(i, 0.4) for i in range(len(chain))],
            "category": need.category,
            "collateral": list(need.collateral),
            "amount": float(max(amount, 1)),
            "rate_cap": float(need.rate_cap) if need.rate_cap is not None else None,
            "region": need.region,
            "prefecture": need.region[:4],
            **{f"w_{name}": float(weight) for name, weight in WEIGHTS.items()},
        }
        return {
            "function_score": {
                "query": {"bool": {"filter": filters, "should": should}},
                "functions": [{"script_score": {"script": {
                    "source": RANK_SCRIPT, "lang": "painless", "params": params}}}],
                "boost_mode": "replace",
            }
        }

    def rank_needs(self, bank_id: int, *, category: str | None = None,
                   region: str | None = None, min_amount: Decimal | None = None,
                   max_amount: Decimal | None = None, statuses=INBOX_STATUSES,
                   max_claims: int | None = None, limit: int = 20, offset: int = 0,
                   now=None) -> tuple[list[Match], int]:
        """Needs eligible for any active product of the bank, best first, with the total.

        Eligibility runs in Elasticsearch (one named filter per product, so each hit says which
        products it matched); every pair is then scored here and reasons made for the page only.
        """
        stats, docs = self._products()
        products = {doc.id: doc for doc in docs.values() if doc.bank_id == bank_id and doc.active}
        clauses = [clause for clause in map(need_clause, products.values()) if clause]
        statuses = list(statuses)
        if not clauses or not statuses:
            return [], 0
        filters: list[dict] = [{"terms": {"status": statuses}}]
        if max_claims is not None:
            filters.append({"range": {"claims_count": {"lt": max_claims}}})
        if category:
            filters.append({"term": {f"cat{code_level(category)}": category}})
        if region:
            filters.append({"term": {f"reg{code_level(region)}": region}})
        if min_amount is not None:
            filters.append({"range": {"amount": {"gte": cents(min_amount)}}})
        if max_amount is not None:
            filters.append({"range": {"amount": {"lte": cents(max_amount)}}})
        filters.append({"bool": {"should": clauses, "minimum_should_match": 1}})
        now = now or utcnow()
        ranked: list[tuple[float, int, int, NeedDoc]] = []  # (score, need id, product id, need)
        for hit in self._all_hits(self.alias("needs"), {"bool": {"filter": filters}}):
            need = NeedDoc.from_json(hit["_source"]["doc"])
            matched = [products[pid] for pid in sorted(
                int(name.removeprefix("product-")) for name in hit.get("matched_queries", ()))
                if pid in products]
            # The filter is the fast path; search.features.is_eligible is the rule.
            matched = [product for product in matched if is_eligible(need, product)]
            if not matched:
                continue
            value, product_id = max(
                (total(need, product, stats, with_freshness=True, now=now), -product.id)
                for product in matched)
            ranked.append((value, need.id, -product_id, need))
        ranked.sort(key=lambda r: (-r[0], -r[1]))
        page = [score(need, products[pid], stats, with_freshness=True, now=now)
                for _, _, pid, need in ranked[offset:offset + limit]]
        return page, len(ranked)

    def _all_hits(self, index: str, query: dict) -> Iterator[dict]:
        """Every hit of a filter query, in id order, page by page with search_after."""
        after = None
        while True:
            response = self.client.search(index=index, query=query, size=INBOX_PAGE,
                                          sort=[{"id": "asc"}], search_after=after,
                                          source=["doc"], track_total_hits=False)
            hits = response["hits"]["hits"]
            yield from hits
            if len(hits) < INBOX_PAGE:
                return
            after = hits[-1]["sort"]

    def versions(self, kind: str) -> dict[int, str]:
        index = self.current_index(kind)
        return {int(hit["_id"]): hit["_source"]["version"]
                for hit in helpers.scan(self.client, index=index, size=5000,
                                        query={"query": {"match_all": {}},
                                               "_source": ["version"]})}

    def search_needs(self, words: str, limit: int = 50) -> list[int]:
        """Keyword search over needs: our tokens first, CJK bigrams as a fallback."""
        from search.tokenizer import tokenize

        tokens = list(dict.fromkeys(tokenize(words)))
        if not tokens:
            return []
        self.current_index("needs")
        response = self.client.search(
            index=self.alias("needs"), size=limit, source=False,
            query={"bool": {"should": [
                {"match": {"tokens": {"query": " ".join(tokens), "boost": 2.0}}},
                {"match": {"text_cjk": {"query": words}}},
            ], "minimum_should_match": 1}},
            sort=[{"_score": "desc"}, {"id": "desc"}])
        return [int(hit["_id"]) for hit in response["hits"]["hits"]]


def need_clause(product: ProductDoc) -> dict | None:
    """The needs one product is eligible for, as a named filter (None: it can match none)."""
    categories: dict[int, list[str]] = {}
    for code in product.categories:
        categories.setdefault(code_level(code), []).append(code)
    regions: dict[int, list[str]] = {}
    for code in product.regions:
        regions.setdefault(code_level(code), []).append(code)
    named = [code for code in product.collateral if code != "credit"]
    if not categories or not regions or not product.sizes or not (
            product.accepts_credit or named):
        return None
    filters = [
        {"range": {"amount": {"gte": cents(product.min_amount_wan),
                              "lte": cents(product.max_amount_wan)}}},
        {"range": {"term": {"gte": product.min_term_months, "lte": product.max_term_months}}},
        {"bool": {"should": [{"terms": {f"cat{level}": codes}}
                             for level, codes in sorted(categories.items())],
                  "minimum_should_match": 1}},
        {"bool": {"should": [{"terms": {f"reg{level}": codes}}
                             for level, codes in sorted(regions.items())],
                  "minimum_should_match": 1}},
        {"terms": {"size": list(product.sizes)}},
        {"range": {"env_rank": {"lte": product.worst_env_rank}}},
    ]
    if not product.accepts_credit:
        filters.append({"terms": {"collateral": named}})
    return {"bool": {"filter": filters, "_name": f"product-{product.id}"}}


def _batches(items: Iterable, size: int) -> Iterator[list]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _error_type(exc: ApiError) -> str:
    body = exc.body if isinstance(exc.body, dict) else {}
    error = body.get("error")
    return error.get("type", "") if isinstance(error, dict) else str(exc.message)
