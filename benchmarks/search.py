"""Search benchmark: the full-text index of sync/fulltext.py beside the alternative it was
chosen over, on the same synthetic mixed English/Japanese mirror.

Designs compared (each on its own copy of the same rows):

* ``bigram`` (sync/fulltext.py, the chosen one): FTS5 ``porter unicode61`` over a view that
  writes each CJK run as overlapping bigrams plus its last character;
* ``trigram`` (today's tokenizer, sync/search.py's way): FTS5 ``trigram`` over the NFKC text
  padded with two spaces; a word of three or more characters is the phrase of its trigrams,
  one of one or two characters the OR of the indexed trigrams that begin with it (up to
  TRIGRAM_EXPANSION of them, as sync/search.py does).

For each: the bulk build time (rows/s, beside the time to write the rows themselves without
an index: the bootstrap's share, a proxy for the issue's "≤ 1.35× the time"), the index's size
on disk beside the UTF-8 bytes of the text it indexes (target ≤ 1.5), search latency p50/p95
over QUERIES (every kind, 20 hits each with snippets, as the palette asks: target p95 ≤ 50 ms),
and RELEVANCE: small labelled cases of the issue's rules (words in any order, inflections,
title above body, 1- and 2-character Japanese words, no false positives, spaced Japanese
queries, NFKC, case and diacritics), passed or failed.

The synthetic text is server/seed.py's (its vocabulary and its 30 % Japanese, not imported:
the benchmark stands for a desk) plus a long tail of rarer words and mixed-script messages,
so that rare queries exist. Contacts, conversations and articles come with it.

    .venv/bin/python benchmarks/search.py                       # 1M messages (issue's size)
    .venv/bin/python benchmarks/search.py --messages 50000      # a quick run

Prints one JSON object on standard output; progress goes to standard error.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import sys
import tempfile
import time
import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make ``benchmarks`` and the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import emit, figure, log, percentile
from sync import fulltext

DAY_MS = 86_400_000
NOW_MS = 1_800_000_000_000
TRIGRAM_EXPANSION = 64

# server/seed.py's vocabulary (_WORDS, _JA) …
_WORDS = (
    "order refund delivery parcel invoice warranty screen remote battery charger account "
    "password address return label tracking number thanks please when today tomorrow "
    "broken works again cannot replace exchange receipt store online payment card update"
).split()
_JA = ("注文", "返金", "配送", "請求書", "保証", "画面", "リモコン", "電池", "パスワード", "住所",
       "返品", "追跡番号", "ありがとうございます", "お願いします", "本日", "明日", "交換")
# … and a tail of rarer words (Zipf-weighted), inflected forms among them.
_TAIL_EN = (
    "printer printing printed prints replied replies reply delivered delivering shipped "
    "shipping charging charged refunded replaced replacing updated updating cancelled "
    "cancellation subscription voucher coupon discount thermostat firmware dishwasher "
    "microwave kettle toaster vacuum humidifier router modem bluetooth speaker headphones "
    "keyboard mouse monitor cable adapter plug socket fuse bulb lamp fridge freezer oven "
    "washer dryer filter hose nozzle blade motor engine sensor display volume duplex "
    "reimbursement chargeback dispute overcharged invoiced billing statement loyalty points "
    "membership renewal expired expiry locked unlock login verification code email sms "
    "whatsapp courier depot customs warehouse backorder preorder stock colour size fit "
    "damaged dented scratched missing leaking noisy overheating flickering frozen crashed"
).split()
_TAIL_JA = ("音量", "両面", "印刷", "傘", "鍵", "箱", "食洗機", "加湿器", "洗濯機", "冷蔵庫",
            "電子レンジ", "エラー", "ロック", "解除", "充電", "ケーブル", "接続", "遅延",
            "キャンセル", "送料", "割引", "クーポン", "会員", "更新", "期限", "ログイン",
            "認証", "破損", "故障", "修理", "点滅", "異音", "水漏れ", "設定", "初期化",
            "ファームウェア", "請求", "領収書", "返信", "商品", "在庫", "予約", "色", "サイズ")
_MIXED = ("iPhone", "Wi-Fi", "PDF", "USB-C", "Bluetooth", "LINE", "QR", "4K", "HDMI")

# ≥ 50 fixed queries: (category, text)
QUERIES: tuple[tuple[str, str], ...] = (
    *(("en short", q) for q in ("refund", "battery", "password", "invoice", "label", "kettle")),
    *(("en inflected", q) for q in ("printing", "printed", "replaced", "charging", "delivered",
                                     "replies")),
    *(("en multi-word", q) for q in ("refund card payment", "tracking number parcel",
                                      "remote battery replace", "screen broken warranty",
                                      "cannot update password", "payment card", "order refund")),
    *(("en long", q) for q in (
        "my order has not arrived and the tracking number does not work",
        "please replace broken charger warranty receipt today",
        "online payment card update account password")),
    *(("en broad", q) for q in ("please", "thanks", "order", "when")),
    *(("en rare", q) for q in ("thermostat", "dishwasher overheating", "chargeback dispute",
                                "humidifier leaking", "voucher expired", "zzyzx")),
    *(("ja 2-char", q) for q in ("返品", "音量", "両面", "画面", "注文", "配送", "電池", "交換",
                                 "本日", "住所")),
    *(("ja 1-char", q) for q in ("傘", "鍵", "箱", "色")),
    *(("ja long", q) for q in ("追跡番号", "パスワード", "ありがとうございます", "請求書の住所",
                               "リモコンの電池", "ファームウェア", "電子レンジ")),
    *(("ja spaced", q) for q in ("画面 ロック", "返品 送料", "注文 キャンセル", "配送 遅延",
                                 "洗濯機 エラー")),
    *(("mixed", q) for q in ("iPhone 充電", "Wi-Fi 接続", "PDF 請求書", "usb-c ケーブル",
                             "ＰＤＦ")),
)


# --------------------------------------------------------------------------- synthetic mirror

def _zipf(words: tuple[str, ...] | list[str], rng: random.Random, k: int) -> list[str]:
    return rng.choices(words, weights=[1 / (i + 1) for i in range(len(words))], k=k)


def _text(rng: random.Random) -> str:
    """seed.py's sentence (3–12 Japanese words, 30 %; else 6–40 English ones), with a tail
    word or two in half of them and a product name in some."""
    b = rng.randbytes(42)
    tail = _zipf(_TAIL_JA if b[0] < 77 else _TAIL_EN, rng, 1 + b[41] % 2) if b[40] < 128 else []
    brand = [_MIXED[b[39] % len(_MIXED)]] if b[38] < 26 else []
    if b[0] < 77:
        words = [_JA[x % len(_JA)] for x in b[2:5 + b[1] % 10]] + tail
        rng.shuffle(words)
        return "".join(brand + words) + "。"
    words = [_WORDS[x % len(_WORDS)] for x in b[2:8 + b[1] % 35]] + tail + brand
    rng.shuffle(words)
    return " ".join(words).capitalize() + "."


MIRROR_DDL = (
    # The columns of the desk's mirror tables that search reads (sync/models.py, m0004).
    "CREATE TABLE contacts (id TEXT PRIMARY KEY, name TEXT NOT NULL, locale TEXT, "
    "identities TEXT NOT NULL)",
    "CREATE TABLE conversations (id TEXT PRIMARY KEY, contact_id TEXT NOT NULL, subject TEXT)",
    "CREATE TABLE messages (id TEXT PRIMARY KEY, conversation_id TEXT NOT NULL, "
    "body TEXT NOT NULL, created_at INTEGER NOT NULL)",
    "CREATE TABLE articles (id TEXT PRIMARY KEY, title TEXT NOT NULL, body TEXT NOT NULL, "
    "tags TEXT NOT NULL, locale TEXT NOT NULL)",
)


def _rows(args: argparse.Namespace) -> Iterator[tuple[str, list[tuple[Any, ...]]]]:
    rng = random.Random(args.seed)
    per = max(1, args.messages // args.conversations)
    n = 0
    for start in range(0, args.conversations, 5000):
        contacts, convs, msgs = [], [], []
        for c in range(start, min(args.conversations, start + 5000)):
            ja = rng.random() < 0.3
            name = (f"{rng.choice('山田佐藤鈴木高橋田中伊藤渡辺')}{rng.choice('太郎花子健一由美')}"
                    if ja else f"Customer {c:06d} {rng.choice(_TAIL_EN).title()}")
            handle = json.dumps([{"channel_type": "email", "handle": f"c{c}@example.com"}])
            contacts.append((f"k{c}", name, "ja" if ja else "en", handle))
            convs.append((f"c{c}", f"k{c}", _text(rng)[:80] if rng.random() < 0.3 else None))
            for _ in range(per):
                if n < args.messages:
                    msgs.append((f"m{n}", f"c{c}", _text(rng),
                                 NOW_MS - rng.randint(0, 400 * DAY_MS)))
                    n += 1
        yield "INSERT INTO contacts VALUES (?, ?, ?, ?)", contacts
        yield "INSERT INTO conversations VALUES (?, ?, ?)", convs
        yield "INSERT INTO messages VALUES (?, ?, ?, ?)", msgs
    articles = []
    for a in range(args.articles):
        ja = rng.random() < 0.4
        body = " ".join(_text(rng) for _ in range(8 + a % 20))
        tags = json.dumps(_zipf(_TAIL_JA if ja else _TAIL_EN, rng, 3))
        articles.append((f"a{a}", _text(rng)[:60], body, tags, "ja" if ja else "en"))
    yield "INSERT INTO articles VALUES (?, ?, ?, ?, ?)", articles


def make_mirror(path: Path, args: argparse.Namespace) -> float:
    """Write the synthetic mirror's rows (no index); returns the seconds it took."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    for sql in MIRROR_DDL:
        db.execute(sql)
    start = time.perf_counter()
    db.execute("BEGIN")
    for sql, rows in _rows(args):
        db.executemany(sql, rows)
    db.execute("COMMIT")
    took = time.perf_counter() - start
    db.close()
    return took


# --------------------------------------------------------------------------- the designs

class Bigram:
    """sync/fulltext.py itself."""

    name = "bigram"
    prefix = "fulltext_"

    def build(self, db: sqlite3.Connection) -> None:
        fulltext.build(db)

    def search(self, db: sqlite3.Connection, query: str, kinds: list[str] | None = None,
               limit: int = 20) -> list[tuple[str, str]]:
        return [(h.kind, h.id) for h in fulltext.search(db, query, kinds, limit, now_ms=NOW_MS)]


def _nfkc(text: str | None) -> str | None:
    return None if text is None else unicodedata.normalize("NFKC", text) + "  "


class Trigram:
    """FTS5's trigram tokenizer over the same kinds, queried as sync/search.py does."""

    name = "trigram"
    prefix = "trigram_"

    def _setup(self, db: sqlite3.Connection) -> None:
        fulltext.register(db)
        db.create_function("rd_nfkc", 1, _nfkc, deterministic=True)

    def build(self, db: sqlite3.Connection) -> None:
        self._setup(db)
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
        for kind in fulltext.KINDS.values():
            if kind.table not in tables:
                continue
            t, cols = f"trigram_{kind.name}", ", ".join(c.name for c in kind.columns)
            named = ", ".join(f"rd_nfkc({c.sql.format(row='')}) AS {c.name}"
                              for c in kind.columns)
            with db:
                db.execute(f"CREATE VIEW {t}_src AS SELECT rowid AS doc, {named} "
                           f"FROM {kind.table}")
                db.execute(f"CREATE VIRTUAL TABLE {t} USING fts5({cols}, content='{t}_src', "
                           "content_rowid='doc', tokenize='trigram')")
                db.execute(f"CREATE VIRTUAL TABLE {t}_vocab USING fts5vocab({t}, 'row')")
                db.execute(f"INSERT INTO {t} ({t}) VALUES ('rebuild')")
                db.execute(f"INSERT INTO {t} ({t}) VALUES ('optimize')")

    def _match(self, db: sqlite3.Connection, table: str, query: str) -> str | None:
        parts = []
        for word in unicodedata.normalize("NFKC", query).lower().split():
            if len(word) >= 3:
                parts.append('"' + word.replace('"', '""') + '"')
                continue
            terms = [r[0] for r in db.execute(
                f"SELECT term FROM {table}_vocab WHERE term >= ? AND term < ? LIMIT ?",
                (word, word + "\U0010ffff", TRIGRAM_EXPANSION))]
            if not terms:
                return None
            parts.append("(" + " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)
                         + ")")
        return " AND ".join(parts) or None

    def search(self, db: sqlite3.Connection, query: str, kinds: list[str] | None = None,
               limit: int = 20) -> list[tuple[str, str]]:
        self._setup(db)
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
        out = []
        for kind in fulltext.KINDS.values():
            t = f"trigram_{kind.name}"
            if (kinds and kind.name not in kinds) or t not in tables:
                continue
            match = self._match(db, t, query)
            if match is None:
                continue
            weights = ", ".join(str(c.weight) for c in kind.columns)
            score = f"-bm25({t}, {weights})"
            if kind.time_sql:
                score = (f"{score} * (1 + {fulltext.RECENCY_BOOST} / (1 + max(0, {NOW_MS} - "
                         f"{kind.time_sql}) / 86400000.0 / {fulltext.RECENCY_DAYS}))")
            rows = db.execute(
                f"SELECT doc, id FROM (SELECT {t}.rowid AS doc, src.id AS id, {score} AS score "
                f"FROM {t} JOIN {kind.table} AS src ON src.rowid = {t}.rowid WHERE {t} MATCH ? "
                f"ORDER BY {t}.rowid DESC LIMIT {fulltext.WINDOW}) ORDER BY score DESC LIMIT ?",
                (match, limit)).fetchall()
            if rows:  # snippets, as the palette would show them
                marks = ", ".join("?" * len(rows))
                db.execute(f"SELECT snippet({t}, -1, '[', ']', '…', 24) FROM {t} WHERE {t} "
                           f"MATCH ? AND rowid IN ({marks})",
                           [match, *(r[0] for r in rows)]).fetchall()
            out += [(kind.name, r[1]) for r in rows]
        return out


DESIGNS: dict[str, Callable[[], Bigram | Trigram]] = {"bigram": Bigram, "trigram": Trigram}


# --------------------------------------------------------------------------- relevance

# (rule, documents as (kind, id, text[, title]), query, expected ids: exact list of the
# kind's hits, or ("top", id): that id first)
RELEVANCE: tuple[tuple[str, list[tuple[str, ...]], str, Any], ...] = (
    ("words in any order", [("message", "m1", "the remote stopped after the battery change"),
                            ("message", "m2", "my remote arrived")],
     "battery remote", ["m1"]),
    ("inflection: printed finds printing", [("message", "m1", "it keeps printing blank pages"),
                                            ("message", "m2", "a sprint planning")],
     "printed", ["m1"]),
    ("inflection: print not sprint", [("message", "m1", "please print the label"),
                                      ("message", "m2", "a sprint planning")],
     "print", ["m1"]),
    ("inflection: replies finds reply", [("message", "m1", "no reply yet")], "replies", ["m1"]),
    ("title above body", [("article", "a1", "your warranty claim is late", "Shipping"),
                          ("article", "a2", "write to us", "Warranty claims"),
                          *(("article", f"x{i}", "nothing to see", f"Topic {i}")
                            for i in range(10))],
     "warranty", ("top", "a2")),
    ("ja 2-char 返品", [("message", "m1", "注文した商品の返品をお願いします")], "返品", ["m1"]),
    ("ja 2-char 音量", [("message", "m1", "テレビの音量が大きい")], "音量", ["m1"]),
    ("ja 2-char 両面", [("message", "m1", "両面印刷ができません")], "両面", ["m1"]),
    ("ja 1-char 傘", [("message", "m1", "傘を忘れました"), ("message", "m2", "雨です")],
     "傘", ["m1"]),
    ("ja 1-char at a run's end", [("message", "m1", "黒い傘"), ("message", "m2", "雨です")],
     "傘", ["m1"]),
    ("no false positive 返品", [("message", "m1", "返信と商品について"),
                               ("message", "m2", "返品について")], "返品", ["m2"]),
    ("画面 ロック means both", [("message", "m1", "ロックを解除したら画面が暗い"),
                              ("message", "m2", "画面が割れました")], "画面 ロック", ["m1"]),
    ("NFKC full-width", [("message", "m1", "ＡＢＣ－１２３の注文")], "abc", ["m1"]),
    ("NFKC half-width kana", [("message", "m1", "ｶﾞｲﾄﾞを読みました")], "ガイド", ["m1"]),
    ("case", [("message", "m1", "PASSWORD reset")], "password", ["m1"]),
    ("diacritics", [("message", "m1", "Café crème")], "cafe creme", ["m1"]),
    ("mixed en/ja", [("message", "m1", "iPhoneの充電ケーブル"),
                     ("message", "m2", "iPhone charger")], "iphone 充電", ["m1"]),
    ("hostile query", [("message", "m1", "refund NEAR the store"),
                       ("message", "m2", "refund")], 'NEAR(" refund', ["m1"]),
)


def relevance(design: Bigram | Trigram) -> dict[str, Any]:
    passed, failed = [], []
    for rule, docs, query, expected in RELEVANCE:
        db = sqlite3.connect(":memory:")
        fulltext.register(db)
        for sql in MIRROR_DDL:
            db.execute(sql)
        for kind, id_, text, *title in docs:
            if kind == "message":
                db.execute("INSERT INTO messages VALUES (?, 'c', ?, ?)", (id_, text, NOW_MS))
            else:
                db.execute("INSERT INTO articles VALUES (?, ?, ?, '[]', 'en')",
                           (id_, title[0], text))
        design.build(db)
        kind = docs[0][0]
        try:
            got = [i for k, i in design.search(db, query, [kind]) if k == kind]
        except sqlite3.Error as e:
            got = [f"error: {e}"]
        ok = got[:1] == [expected[1]] if isinstance(expected, tuple) else got == expected
        (passed if ok else failed).append(rule if ok else f"{rule}: {query!r} gave {got}")
        db.close()
    return {"passed": len(passed), "of": len(RELEVANCE), "failed": failed}


# --------------------------------------------------------------------------- measurement

def _indexed_text_bytes(db: sqlite3.Connection) -> int:
    total = 0
    for kind in fulltext.KINDS.values():
        cols = " + ".join(f"coalesce(length(CAST({c.sql.format(row='')} AS BLOB)), 0)"
                          for c in kind.columns)
        total += db.execute(f"SELECT coalesce(sum({cols}), 0) FROM {kind.table}").fetchone()[0]
    return int(total)


def _index_bytes(db: sqlite3.Connection, prefix: str) -> int:
    return int(db.execute("SELECT coalesce(sum(pgsize), 0) FROM dbstat WHERE name LIKE ?",
                          (prefix + "%",)).fetchone()[0])


def measure(design: Bigram | Trigram, base: Path, work: Path, args: argparse.Namespace,
            rows: int, insert_s: float) -> dict[str, Any]:
    path = work / f"{design.name}.sqlite3"
    path.write_bytes(base.read_bytes())
    db = sqlite3.connect(path)
    fulltext.register(db)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA cache_size = -262144")  # 256 MiB, as for a bootstrap
    log(f"{design.name}: building the index over {rows} rows")
    start = time.perf_counter()
    design.build(db)
    build_s = time.perf_counter() - start
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    text_bytes = _indexed_text_bytes(db)
    index_bytes = _index_bytes(db, design.prefix)
    log(f"{design.name}: built in {build_s:.1f} s; searching")
    db.execute("PRAGMA cache_size = -65536")
    for _, q in QUERIES:  # warm the page cache, as a desk that has searched before
        design.search(db, q)
    latencies: list[float] = []
    by_category: dict[str, list[float]] = {}
    counts = {}
    for _ in range(args.rounds):
        for category, q in QUERIES:
            start = time.perf_counter()
            hits = design.search(db, q)
            ms = (time.perf_counter() - start) * 1000
            latencies.append(ms)
            by_category.setdefault(category, []).append(ms)
            counts[q] = len(hits)
    db.close()
    p95 = percentile(latencies, 95)
    return {
        "build_s": round(build_s, 2),
        "build_rows_per_s": figure(rows / build_s, ">= 50000", unit="rows/s", digits=0),
        "bootstrap_write_with_index_vs_without": figure(
            (insert_s + build_s) / insert_s, "<= 1.35", unit="×", digits=2,
            note="proxy: writing the rows (no index) then the bulk build, beside writing "
                 "them alone; the real bootstrap has HTTP and parsing besides"),
        "index_bytes": index_bytes,
        "indexed_text_bytes": text_bytes,
        "index_size_vs_text": figure(index_bytes / text_bytes, "<= 1.5", unit="×", digits=2),
        "search_p50_ms": round(percentile(latencies, 50), 2),
        "search_p95_ms": figure(p95, "<= 50", unit="ms", digits=2),
        "search_max_ms": round(max(latencies), 2),
        "p95_ms_by_category": {c: round(percentile(v, 95), 2) for c, v in by_category.items()},
        "relevance": relevance(design),
        "queries_without_hits": sorted(q for q, n in counts.items() if n == 0),
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--messages", type=int, default=1_000_000)
    p.add_argument("--conversations", type=int, default=None,
                   help="default: a tenth of --messages")
    p.add_argument("--articles", type=int, default=10_000)
    p.add_argument("--designs", default="bigram,trigram",
                   help=f"comma-separated, of {', '.join(DESIGNS)}")
    p.add_argument("--rounds", type=int, default=3, help="times each query is timed")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--work-dir", type=Path, default=None,
                   help="where the databases go (default: a temporary directory)")
    args = p.parse_args(argv)
    args.conversations = args.conversations or max(1, args.messages // 10)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(dir=args.work_dir) as tmp:
        work = Path(tmp)
        base = work / "mirror.sqlite3"
        log(f"writing {args.messages} messages, {args.conversations} conversations and "
            f"contacts, {args.articles} articles")
        insert_s = make_mirror(base, args)
        rows = args.messages + 2 * args.conversations + args.articles
        results = {name: measure(DESIGNS[name](), base, work, args, rows, insert_s)
                   for name in args.designs.split(",")}
    emit("search", workspace={"messages": args.messages, "conversations": args.conversations,
                              "contacts": args.conversations, "articles": args.articles,
                              "queries": len(QUERIES), "rounds": args.rounds,
                              "rows_write_s": round(insert_s, 2), "sqlite": sqlite3.sqlite_version},
         results=results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

