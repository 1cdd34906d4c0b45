"""The embedded engine: an SQLite database with FTS5 tables in its own file in the instance folder.

Why SQLite rather than tantivy: it ships with Python, its WAL mode lets several gunicorn workers
and RQ workers read while one writes (all on one machine, which is what "embedded" means), and
the eligibility rules are plain indexed SQL over integer columns. FTS5 serves keyword search;
ranking reads token lists and computes the same BM25 the Elasticsearch engine uses.

A full reindex builds a new file and then swaps a pointer file (`current`) with an atomic rename:
readers notice the new generation on their next query.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from matchmaker.database import utcnow
from search.documents import (
    COLLATERAL_BITS,
    INBOX_STATUSES,
    SIZE_BITS,
    NeedDoc,
    ProductDoc,
    bits,
    category_levels,
    code_level,
    region_levels,
)
from search.features import (
    MAX_FRESHNESS_CONTRIBUTION,
    Match,
    TextStats,
    features,
    rank_products,
    score_from,
    static_total,
    with_static,
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS products (
    id INTEGER PRIMARY KEY, bank_id INTEGER NOT NULL, active INTEGER NOT NULL,
    min_amount INTEGER NOT NULL, max_amount INTEGER NOT NULL,
    min_term INTEGER NOT NULL, max_term INTEGER NOT NULL,
    worst_env_rank INTEGER NOT NULL, sizes INTEGER NOT NULL, collateral INTEGER NOT NULL,
    accepts_credit INTEGER NOT NULL, doc TEXT NOT NULL, version TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_products_bank ON products (bank_id, active);
CREATE TABLE IF NOT EXISTS product_regions (
    code TEXT NOT NULL, product_id INTEGER NOT NULL, PRIMARY KEY (code, product_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS product_categories (
    code TEXT NOT NULL, product_id INTEGER NOT NULL, PRIMARY KEY (code, product_id)
) WITHOUT ROWID;
CREATE VIRTUAL TABLE IF NOT EXISTS products_fts USING fts5 (tokens, tokenize = 'unicode61');
CREATE TABLE IF NOT EXISTS needs (
    id INTEGER PRIMARY KEY, status TEXT NOT NULL, amount INTEGER NOT NULL, term INTEGER NOT NULL,
    cat1 TEXT NOT NULL, cat2 TEXT NOT NULL, cat3 TEXT NOT NULL,
    reg1 TEXT NOT NULL, reg2 TEXT NOT NULL, reg3 TEXT NOT NULL,
    size INTEGER NOT NULL, env_rank INTEGER NOT NULL, collateral INTEGER NOT NULL,
    claims INTEGER NOT NULL, published_at TEXT, doc TEXT NOT NULL, version TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_needs_status_cat1 ON needs (status, cat1);
CREATE INDEX IF NOT EXISTS ix_needs_status_cat2 ON needs (status, cat2);
CREATE INDEX IF NOT EXISTS ix_needs_status_cat3 ON needs (status, cat3);
CREATE VIRTUAL TABLE IF NOT EXISTS needs_fts USING fts5 (tokens, tokenize = 'unicode61');
"""


# Bumped when the layout changes; an index of another layout is replaced by an empty one (and a
# warning says to run `flask search reindex`).
SCHEMA_VERSION = "2"
log = logging.getLogger(__name__)


def cents(value: Decimal) -> int:
    """Amounts as whole hundredths of 万元: exact integers, never floats."""
    return int(Decimal(value) * 100)


class EmbeddedEngine:
    name = "embedded"

    def __init__(self, directory: str | os.PathLike):
        self.directory = Path(directory)
        self._local = threading.local()
        self._stats_lock = threading.Lock()
        self._stats: dict[tuple[str, str], tuple[TextStats, dict[int, ProductDoc]]] = {}
        self._decoded: dict[int, tuple[str, NeedDoc]] = {}  # id → (stored text, document)
        self._pointer_path = str(self.pointer)
        self._pointer: tuple[tuple[int, int, int], Path] | None = None  # (stat of `current`, file)
        # The inbox's eligible needs per bank and filters, with each pair's score but freshness,
        # kept while the index's generations are unchanged (see `_inbox_candidates`).
        self._inbox_lock = threading.Lock()
        self._inbox: OrderedDict[tuple, tuple[list, TextStats, dict[int, ProductDoc], dict,
                                              dict]] = OrderedDict()
        self._inbox_size = 0

    # --- files and connections -----------------------------------------------------------

    @property
    def pointer(self) -> Path:
        return self.directory / "current"

    def current_file(self) -> Path:
        """The index file `current` names. Read again only when `current` was replaced (every
        swap renames a new file over it: a new inode and time), so most queries cost one stat."""
        try:
            found = os.stat(self._pointer_path)
        except FileNotFoundError:
            found = None
        if found is not None:
            signature = (found.st_ino, found.st_mtime_ns, found.st_size)
            known = self._pointer
            if known is not None and known[0] == signature:
                return known[1]
            name = self.pointer.read_text().strip()
            if name:
                path = self.directory / name
                self._pointer = (signature, path)
                return path
        self.directory.mkdir(parents=True, exist_ok=True)
        name = self._new_file_name()
        self._create(self.directory / name)
        self._swap(name)
        return self.directory / name

    def _new_file_name(self) -> str:
        return f"index-{time.time_ns()}.sqlite"

    def _swap(self, name: str) -> None:
        tmp = self.directory / f".current-{os.getpid()}-{threading.get_ident()}"
        tmp.write_text(name)
        os.replace(tmp, self.pointer)

    def _open(self, path: Path) -> sqlite3.Connection:
        conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=30000")
        return conn

    def _create(self, path: Path) -> None:
        conn = self._open(path)
        conn.executescript(SCHEMA)
        conn.execute("INSERT OR IGNORE INTO meta VALUES ('products_generation', '0')")
        conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (SCHEMA_VERSION,))
        conn.close()

    def conn(self) -> sqlite3.Connection:
        """This thread's connection to the current index file (reopened after a swap)."""
        path = self.current_file()
        local = self._local
        if getattr(local, "path", None) != path:
            if getattr(local, "conn", None) is not None:
                local.conn.close()
            conn = self._open(path)
            version = conn.execute(
                "SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            if version is None or version[0] != SCHEMA_VERSION:
                conn.close()
                log.warning("search index %s has an old layout; starting an empty one: "
                            "run `flask search reindex`", path)
                name = self._new_file_name()
                self._create(self.directory / name)
                self._swap(name)
                path = self.directory / name
                conn = self._open(path)
            local.conn = conn
            local.path = path
        return local.conn

    def close(self) -> None:
        if getattr(self._local, "conn", None) is not None:
            self._local.conn.close()
            self._local.conn = None
            self._local.path = None

    # --- writing -------------------------------------------------------------------------

    @staticmethod
    def _product_rows(docs: Iterable[ProductDoc]):
        for doc in docs:
            yield (
                (doc.id, doc.bank_id, int(doc.active), cents(doc.min_amount_wan),
                 cents(doc.max_amount_wan), doc.min_term_months, doc.max_term_months,
                 doc.worst_env_rank, bits(doc.sizes, SIZE_BITS),
                 bits(doc.collateral, COLLATERAL_BITS), int(doc.accepts_credit),
                 json.dumps(doc.to_json(), ensure_ascii=False), doc.version),
                doc,
            )

    def _write_products(self, conn: sqlite3.Connection, docs: Iterable[ProductDoc]) -> int:
        count = 0
        for row, doc in self._product_rows(docs):
            conn.execute("DELETE FROM products WHERE id = ?", (doc.id,))
            conn.execute("DELETE FROM product_regions WHERE product_id = ?", (doc.id,))
            conn.execute("DELETE FROM product_categories WHERE product_id = ?", (doc.id,))
            conn.execute("DELETE FROM products_fts WHERE rowid = ?", (doc.id,))
            conn.execute("INSERT INTO products VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", row)
            conn.executemany("INSERT INTO product_regions VALUES (?, ?)",
                             [(code, doc.id) for code in doc.regions])
            conn.executemany("INSERT INTO product_categories VALUES (?, ?)",
                             [(code, doc.id) for code in doc.categories])
            conn.execute("INSERT INTO products_fts (rowid, tokens) VALUES (?, ?)",
                         (doc.id, " ".join(doc.tokens)))
            count += 1
        conn.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 "
                     "WHERE key = 'products_generation'")
        return count

    @staticmethod
    def _need_row(doc: NeedDoc) -> tuple:
        c1, c2, c3 = category_levels(doc.category)
        r1, r2, r3 = region_levels(doc.region)
        return (doc.id, doc.status, cents(doc.amount_wan), doc.term_months, c1, c2, c3, r1, r2, r3,
                SIZE_BITS.get(doc.size, 0), doc.env_rank, bits(doc.collateral, COLLATERAL_BITS),
                doc.claims_count, doc.published_at.isoformat() if doc.published_at else None,
                json.dumps(doc.to_json(), ensure_ascii=False), doc.version)

    def upsert_products(self, docs: Iterable[ProductDoc]) -> int:
        conn = self.conn()
        with _transaction(conn):
            return self._write_products(conn, docs)

    def delete_product(self, product_id: int) -> None:
        conn = self.conn()
        with _transaction(conn):
            for table, column in (("products", "id"), ("product_regions", "product_id"),
                                  ("product_categories", "product_id"),
                                  ("products_fts", "rowid")):
                conn.execute(f"DELETE FROM {table} WHERE {column} = ?", (product_id,))  # noqa: S608
            conn.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 "
                         "WHERE key = 'products_generation'")

    def upsert_needs(self, docs: Iterable[NeedDoc]) -> int:
        conn = self.conn()
        count = 0
        with _transaction(conn):
            for doc in docs:
                conn.execute("INSERT OR REPLACE INTO needs VALUES "
                             "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", self._need_row(doc))
                conn.execute("DELETE FROM needs_fts WHERE rowid = ?", (doc.id,))
                conn.execute("INSERT INTO needs_fts (rowid, tokens) VALUES (?, ?)",
                             (doc.id, " ".join(doc.tokens)))
                count += 1
            if count:
                _bump_needs_generation(conn)
        return count

    def delete_need(self, need_id: int) -> None:
        conn = self.conn()
        with _transaction(conn):
            conn.execute("DELETE FROM needs WHERE id = ?", (need_id,))
            conn.execute("DELETE FROM needs_fts WHERE rowid = ?", (need_id,))
            _bump_needs_generation(conn)

    def rebuild(self, products: Iterable[ProductDoc], needs: Iterable[NeedDoc],
                progress: Callable[[int], None] | None = None, batch: int = 2000) -> dict:
        """Build a new index file from scratch and swap it in; returns counts."""
        self.directory.mkdir(parents=True, exist_ok=True)
        old = self.current_file()
        name = self._new_file_name()
        path = self.directory / name
        self._create(path)
        conn = self._open(path)
        conn.execute("PRAGMA synchronous=OFF")
        with _transaction(conn):
            product_count = self._write_products(conn, products)
        need_count = 0
        pending: list[NeedDoc] = []

        def flush():
            nonlocal need_count
            with _transaction(conn):
                conn.executemany("INSERT INTO needs VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                                 [self._need_row(doc) for doc in pending])
                conn.executemany("INSERT INTO needs_fts (rowid, tokens) VALUES (?, ?)",
                                 [(doc.id, " ".join(doc.tokens)) for doc in pending])
            need_count += len(pending)
            if progress:
                progress(len(pending))
            pending.clear()

        for doc in needs:
            pending.append(doc)
            if len(pending) >= batch:
                flush()
        if pending:
            flush()
        conn.execute("PRAGMA optimize")
        conn.close()
        self._swap(name)
        self.close()
        if old != path and old.exists():
            # Readers still holding the old file keep it open until they notice the swap.
            for suffix in ("", "-wal", "-shm"):
                Path(f"{old}{suffix}").unlink(missing_ok=True)
        return {"products": product_count, "needs": need_count, "file": str(path)}

    # --- reading -------------------------------------------------------------------------

    def _products(self) -> tuple[TextStats, dict[int, ProductDoc]]:
        """All product documents and their BM25 statistics, cached per index generation."""
        conn = self.conn()
        generation = conn.execute(
            "SELECT value FROM meta WHERE key = 'products_generation'").fetchone()[0]
        key = (str(self._local.path), generation)
        cached = self._stats.get(key)
        if cached is None:
            with self._stats_lock:
                cached = self._stats.get(key)
                if cached is None:
                    docs = {row[0]: ProductDoc.from_json(json.loads(row[1]))
                            for row in conn.execute("SELECT id, doc FROM products")}
                    cached = (TextStats(doc.tokens for doc in docs.values()), docs)
                    self._stats = {key: cached}
        return cached

    def warm(self) -> None:
        """Load the product documents and their statistics now, then close this thread's
        connection: a worker does so before it forks, and a forked process must open its own
        SQLite connection (it keeps the loaded documents)."""
        try:
            self._products()
        finally:
            self.close()

    def product_doc(self, product_id: int) -> ProductDoc | None:
        return self._products()[1].get(product_id)

    def rank_products(self, need: NeedDoc, limit: int = 10) -> list[Match]:
        stats, docs = self._products()
        conn = self.conn()
        regions = [code for code in region_levels(need.region) if code]
        categories = [code for code in category_levels(need.category) if code]
        amount = cents(need.amount_wan)
        rows = conn.execute(
            f"""
            SELECT id FROM products
            WHERE active = 1 AND min_amount <= ? AND max_amount >= ?
              AND min_term <= ? AND max_term >= ? AND worst_env_rank >= ?
              AND (sizes & ?) != 0 AND (accepts_credit = 1 OR (collateral & ?) != 0)
              AND id IN (SELECT product_id FROM product_regions
                         WHERE code IN ({_marks(regions)}))
              AND id IN (SELECT product_id FROM product_categories
                         WHERE code IN ({_marks(categories)}))
            """,  # noqa: S608  (only placeholders are formatted in)
            (amount, amount, need.term_months, need.term_months, need.env_rank,
             SIZE_BITS.get(need.size, 0), bits(need.collateral, COLLATERAL_BITS),
             *regions, *categories),
        ).fetchall()
        candidates = [docs[row[0]] for row in rows if row[0] in docs]
        return rank_products(need, candidates, stats, limit=limit)

    def rank_needs(self, bank_id: int, *, category: str | None = None,
                   region: str | None = None, min_amount: Decimal | None = None,
                   max_amount: Decimal | None = None, statuses=INBOX_STATUSES,
                   max_claims: int | None = None, limit: int = 20, offset: int = 0,
                   now=None) -> tuple[list[Match], int]:
        """Needs eligible for any active product of the bank, best first, with the total.

        Eligibility runs in SQL (one index-backed query per product, ids only); documents are
        then read once per need and each (need, product) pair is scored. All of that is kept
        (`_inbox_candidates`) until a need or product of the index changes; a page then adds
        only freshness, which depends on the time, and is kept for the rest of its step of the
        clock (unless the caller gives `now`, which is then used exactly).
        """
        kept_pages = now is None
        if now is None:
            # Freshness halves every FRESHNESS_HALF_LIFE_DAYS; within a step of INBOX_TIME_STEP
            # seconds it moves a score by less than its rounding (4 places), so a page is ranked
            # once per step of the clock and kept with the candidates.
            step = self.INBOX_TIME_STEP
            now = datetime.fromtimestamp(int(utcnow().timestamp()) // step * step, UTC)
        candidates, stats, products, shown, pages = self._inbox_candidates(
            bank_id, category=category, region=region, min_amount=min_amount,
            max_amount=max_amount, statuses=tuple(statuses), max_claims=max_claims)
        if not kept_pages:
            return self._rank_page(candidates, stats, products, shown, now, offset, limit)
        with self._inbox_lock:
            if pages.get("now") != now:  # a new step: the pages of the last one are dead
                pages.clear()
                pages["now"] = now
            kept = pages.get((offset, limit))
        if kept is None:
            page, total = self._rank_page(candidates, stats, products, shown, now, offset, limit)
            kept = (tuple(page), total)
            with self._inbox_lock:
                if pages.get("now") == now:
                    pages[(offset, limit)] = kept
        return list(kept[0]), kept[1]

    def _rank_page(self, candidates, stats, products, shown, now, offset: int,
                   limit: int) -> tuple[list[Match], int]:
        # Only the first `offset + limit` are shown. A need's score lies between its best
        # static sum rounded (no freshness) and that sum plus the largest freshness
        # contribution, rounded: a need whose upper bound is below the lower bound of the
        # `offset + limit`-th best cannot be shown, so only the others are scored exactly.
        # `candidates` is in descending order of the best static sum, and both bounds grow
        # with it: the needs to score are a prefix.
        wanted = offset + limit
        scored = candidates
        if 0 < wanted < len(candidates):
            floor = round(candidates[wanted - 1][0], 4)
            end = wanted
            while end < len(candidates) and round(
                    candidates[end][0] + MAX_FRESHNESS_CONTRIBUTION, 4) >= floor:
                end += 1
            scored = candidates[:end]
        ranked: list[tuple[float, int, int, NeedDoc]] = []  # (score, need id, product id, need)
        for _, need_id, need, pairs in scored:
            if len(pairs) == 1:
                static, product_id = pairs[0]
                ranked.append((with_static(static, need, now), need_id, product_id, need))
            else:
                value, negative_id = max((with_static(static, need, now), -pid)
                                         for static, pid in pairs)
                ranked.append((value, need_id, -negative_id, need))
        ranked.sort(key=lambda r: (-r[0], -r[1]))
        # Reasons only for the page that is shown (each pair's features but freshness are kept
        # with the candidates once computed: pages are shown again and again).
        page = []
        for _, need_id, pid, need in ranked[offset:offset + limit]:
            values = shown.get((need_id, pid))
            if values is None:
                values = shown[(need_id, pid)] = features(need, products[pid], stats)
            page.append(score_from(values, need, products[pid], with_freshness=True, now=now))
        return page, len(candidates)

    # Pairs kept at most (about 150 bytes each with their list entry; documents are shared).
    INBOX_CACHE_PAIRS = 200_000
    # Ranked pages are kept per step of this many seconds of the clock (see `rank_needs`).
    INBOX_TIME_STEP = 10

    def _inbox_candidates(self, bank_id: int, *, category, region, min_amount, max_amount,
                          statuses: tuple, max_claims
                          ) -> tuple[list[tuple[float, int, NeedDoc, list]], TextStats, dict,
                                     dict, dict]:
        """[(best static_total, need id, document, [(static_total, product id), …])] for every
        need eligible for one of the bank's active products under these filters, best static
        sum first; with the text statistics and the bank's products they were scored with, and
        a dict for the features of the pairs shown so far, {(need id, product id): values}, and
        one for the ranked pages of the current step of the clock (see `rank_needs`).

        Kept per index file and generation: `products_generation` and `needs_generation` are
        bumped in the transaction of every write (any process), and a query reads them first,
        so a kept list is never older than the data it is used for."""
        conn = self.conn()
        generations = dict(conn.execute(
            "SELECT key, value FROM meta WHERE key IN "
            "('products_generation', 'needs_generation')").fetchall())
        key = (str(self._local.path), generations.get("products_generation"),
               generations.get("needs_generation"), bank_id, category, region,
               None if min_amount is None else cents(min_amount),
               None if max_amount is None else cents(max_amount), statuses, max_claims)
        with self._inbox_lock:
            found = self._inbox.get(key)
            if found is not None:
                self._inbox.move_to_end(key)
                return found
        stats, docs = self._products()
        products = {doc.id: doc for doc in docs.values() if doc.bank_id == bank_id and doc.active}
        eligible: dict[int, list[int]] = {}
        for product in products.values():
            sql, params = _need_filter(product, statuses)
            if max_claims is not None:
                sql += " AND claims < ?"
                params.append(max_claims)
            if category:
                sql += f" AND cat{code_level(category)} = ?"
                params.append(category)
            if region:
                sql += f" AND reg{code_level(region)} = ?"
                params.append(region)
            if min_amount is not None:
                sql += " AND amount >= ?"
                params.append(cents(min_amount))
            if max_amount is not None:
                sql += " AND amount <= ?"
                params.append(cents(max_amount))
            for (need_id,) in conn.execute(sql, params):
                found_ids = eligible.setdefault(need_id, [])
                if product.id not in found_ids:
                    found_ids.append(product.id)
        needs = []
        for need_id, need in self._need_docs(conn, list(eligible)).items():
            pairs = [(static_total(need, products[pid], stats), pid) for pid in eligible[need_id]]
            needs.append((max(static for static, _ in pairs), need_id, need, pairs))
        needs.sort(key=lambda row: -row[0])
        found = (needs, stats, products, {}, {})
        with self._inbox_lock:
            if key not in self._inbox:
                # Entries of another index file or generation are never asked for again: once
                # a query has seen newer data, they go (a busy inbox would otherwise keep up to
                # INBOX_CACHE_PAIRS of dead lists until the budget pushed them out).
                for stale in [k for k in self._inbox if k[:3] != key[:3]]:
                    self._inbox_size -= _pairs(self._inbox.pop(stale))
                self._inbox[key] = found
                self._inbox_size += _pairs(found)
                while self._inbox_size > self.INBOX_CACHE_PAIRS and len(self._inbox) > 1:
                    _, dropped = self._inbox.popitem(last=False)
                    self._inbox_size -= _pairs(dropped)
        return found

    def _need_docs(self, conn: sqlite3.Connection, ids: list[int]) -> dict[int, NeedDoc]:
        """Decoded documents of these needs. Decoding is the costly part, so each stored text
        is decoded once and kept until the text changes (any writer, any process)."""
        cache = self._decoded
        found: dict[int, NeedDoc] = {}
        for start in range(0, len(ids), 900):
            chunk = ids[start:start + 900]
            for need_id, doc_json in conn.execute(
                    f"SELECT id, doc FROM needs WHERE id IN ({_marks(chunk)})",  # noqa: S608
                    chunk):
                cached = cache.get(need_id)
                if cached is None or cached[0] != doc_json:
                    cached = cache[need_id] = (doc_json, NeedDoc.from_json(json.loads(doc_json)))
                found[need_id] = cached[1]
        if len(cache) > 100_000:  # bounded: keep only what this query used
            self._decoded = {i: cache[i] for i in found}
        return found

    def need_doc(self, need_id: int) -> NeedDoc | None:
        return self._need_docs(self.conn(), [need_id]).get(need_id)

    def need_docs(self, need_ids: Iterable[int]) -> dict[int, NeedDoc]:
        """The documents of these needs (those in the index), in one query per 900."""
        return self._need_docs(self.conn(), list(need_ids))

    def versions(self, kind: str) -> dict[int, str]:
        table = {"products": "products", "needs": "needs"}[kind]
        return dict(self.conn().execute(f"SELECT id, version FROM {table}"))  # noqa: S608

    def search_needs(self, words: str, limit: int = 50) -> list[int]:
        """Keyword search over needs (FTS5), for filters and the office."""
        from search.tokenizer import tokenize

        tokens = [t.replace('"', "") for t in tokenize(words)]
        if not tokens:
            return []
        query = " OR ".join(f'"{t}"' for t in tokens)
        rows = self.conn().execute(
            "SELECT rowid FROM needs_fts WHERE needs_fts MATCH ? ORDER BY rank LIMIT ?",
            (query, limit)).fetchall()
        return [row[0] for row in rows]


# What the outer query of `_need_filter` can still filter on (claims, category, region, amount).
_FILTER_COLUMNS = "id, claims, cat1, cat2, cat3, reg1, reg2, reg3, amount"


def _need_filter(product: ProductDoc, statuses) -> tuple[str, list]:
    """SQL for the ids of the needs this product is eligible for.

    One SELECT per category level the product names, joined by UNION ALL, so each can use the
    (status, catN) index; the other rules are checked on the rows found.
    """
    by_level: dict[int, list[str]] = {1: [], 2: [], 3: []}
    for code in product.categories:
        by_level[code_level(code)].append(code)
    regions: dict[int, list[str]] = {1: [], 2: [], 3: []}
    for code in product.regions:
        regions[code_level(code)].append(code)
    region_sql = " OR ".join(f"reg{level} IN ({_marks(codes)})"
                             for level, codes in regions.items() if codes) or "0"
    rest = (" AND amount BETWEEN ? AND ? AND term BETWEEN ? AND ?"
            f" AND ({region_sql}) AND (size & ?) != 0 AND env_rank <= ?")
    rest_params: list = [cents(product.min_amount_wan), cents(product.max_amount_wan),
                         product.min_term_months, product.max_term_months]
    rest_params += [c for level in (1, 2, 3) for c in regions[level]]
    rest_params += [bits(product.sizes, SIZE_BITS), product.worst_env_rank]
    if not product.accepts_credit:
        rest += " AND (collateral & ?) != 0"
        rest_params.append(bits(product.collateral, COLLATERAL_BITS))
    selects, params = [], []
    for level, codes in by_level.items():
        if codes:
            selects.append(f"SELECT {_FILTER_COLUMNS} FROM needs"  # noqa: S608
                           f" WHERE status IN ({_marks(statuses)})"
                           f" AND cat{level} IN ({_marks(codes)}){rest}")
            params += [*statuses, *codes, *rest_params]
    if not selects:
        return "SELECT id FROM needs WHERE 0", []
    return "SELECT id FROM (" + " UNION ALL ".join(selects) + ") WHERE 1", params  # noqa: S608


def _pairs(entry) -> int:
    return sum(len(pairs) for _, _, _, pairs in entry[0])


def _bump_needs_generation(conn: sqlite3.Connection) -> None:
    """In the writing transaction: readers that keep results (the inbox) see that needs changed.
    An upsert, so that index files built before the counter existed get it on their first write."""
    conn.execute("INSERT INTO meta VALUES ('needs_generation', '1') ON CONFLICT (key) "
                 "DO UPDATE SET value = CAST(value AS INTEGER) + 1")


def _marks(values) -> str:
    return ", ".join("?" for _ in values) or "NULL"


class _transaction:
    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def __enter__(self):
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type, exc, tb):
        self.conn.execute("COMMIT" if exc_type is None else "ROLLBACK")
        return False
