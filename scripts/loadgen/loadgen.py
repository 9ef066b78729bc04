#!/usr/bin/env python3
"""Deterministic generator of production-like Segment traffic for Inlet's load tests.

Writes
  --out-bodies FILE   request bodies, one per line (compact JSON, no raw newline inside), for
                      wrk (scripts/loadgen/inlet.lua) and InletBench;
  --out-rows DIR      the same messages as rows of the six events tables, in PostgreSQL's COPY
                      text format, split into --streams streams (DIR/s0/tracks.tsv, ...), with
                      DIR/s<k>/copy.sql, a psql script that \\copy-loads stream k; for the
                      raw-COPY baseline of `make bench`.

The mix is that of a web property seen through analytics.js: about 70 % track, 15 % page,
10 % identify, the rest screen, group and alias; about 1 KB per message with nested `context`
and `properties`; `timestamp` spread over the current month and --months-back months before it.

messageIds are unique and carry a placeholder prefix @P@ that the sender replaces (the wrk
script puts run, thread and pass there, so cycling through the pool never repeats an id); the
row files get --row-prefix instead, repeated --row-passes times over the pool with prefix
<row-prefix><pass>.

Same --seed, --messages, --batch, --shape and --now give byte-identical output.
Python 3 standard library only.
"""
import argparse
import datetime as dt
import json
import os
import random
import sys

PLACEHOLDER = "@P@"

# Event names as apps send them, with the `event` column Inlet derives (its snake_case slug).
TRACK_EVENTS = [
    ("Product Viewed", "product_viewed"), ("Product Added", "product_added"),
    ("Order Completed", "order_completed"), ("Checkout Started", "checkout_started"),
    ("Products Searched", "products_searched"), ("Signed Up", "signed_up"),
    ("Signed In", "signed_in"), ("Video Playback Started", "video_playback_started"),
    ("Button Clicked", "button_clicked"), ("Form Submitted", "form_submitted"),
    ("Cart Viewed", "cart_viewed"), ("Promotion Clicked", "promotion_clicked"),
    ("Experiment Viewed", "experiment_viewed"), ("Feature Used", "feature_used"),
    ("addToWishlist", "add_to_wishlist"), ("XMLHttpRequest Failed", "xml_http_request_failed"),
]
PAGES = [
    ("Home", None, "/", "Acme — Home"), ("Pricing", "Marketing", "/pricing", "Pricing | Acme"),
    ("Docs", "Docs", "/docs/getting-started", "Getting started | Acme Docs"),
    ("Product", "Shop", "/shop/p/12345-trail-runner", "Trail Runner — Acme Shop"),
    ("Blog", "Content", "/blog/2024/how-we-scaled", "How we scaled | Acme Blog"),
    ("Café", "Content", "/de/café-menü", "Café & Menü | Acme"),
    ("Checkout", "Shop", "/checkout", "Checkout | Acme"),
]
SCREENS = ["Home", "Feed", "Settings", "Product Detail", "Cart", "Profile"]
BROWSERS = [
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/124.0.0.0 Safari/537.36", "macOS", "Google Chrome", "124"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/123.0.0.0 Safari/537.36 Edg/123.0.0.0", "Windows", "Microsoft Edge", "123"),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/17.4 Mobile/15E148 Safari/604.1", "iOS", "Safari", "17"),
    ("Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0", "Linux", "Firefox", "125"),
]
LOCALES = ["en-US", "en-GB", "de-DE", "fr-FR", "ja-JP", "pt-BR", "es-ES"]
TIMEZONES = ["America/New_York", "Europe/Berlin", "Europe/London", "Asia/Tokyo", "America/Sao_Paulo"]
REFERRERS = ["https://www.google.com/", "https://news.ycombinator.com/", "", "https://t.co/abc123",
             "https://www.bing.com/search?q=acme+shoes"]
CAMPAIGNS = [None, None, None, {"name": "spring_sale", "source": "newsletter", "medium": "email",
                                "term": "running shoes", "content": "hero_banner"}]
PLANS = ["free", "pro", "business", "enterprise"]
FIRST = ["Ada", "Grace", "Linus", "Margaret", "Alan", "Barbara", "Dennis", "Radia", "Zoë", "José"]
LAST = ["Lovelace", "Hopper", "Torvalds", "Hamilton", "Turing", "Liskov", "Ritchie", "Perlman"]
TABLE_OF = {"track": "tracks", "page": "pages", "identify": "identifies", "screen": "screens",
            "group": "groups", "alias": "aliases"}
COMMON = ["tenant_id", "id", "anonymous_id", "user_id", "timestamp", "original_timestamp", "sent_at",
          "received_at", "context", "integrations"]
OWN = {"tracks": ["event", "event_text", "properties"], "identifies": ["traits"],
       "pages": ["name", "category", "properties"], "screens": ["name", "properties"],
       "groups": ["group_id", "traits"], "aliases": ["previous_id"]}
ENVELOPE_LIBRARY = {"library": {"name": "analytics-python", "version": "2.3.2"}}


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (t.microsecond // 1000)


class Generator:
    def __init__(self, seed, now, months_back):
        self.r = random.Random(seed)
        self.now = now
        first = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        for _ in range(months_back):
            first = (first - dt.timedelta(days=1)).replace(day=1)
        self.start = first
        self.span = (now - first).total_seconds()
        self.serial = 0
        self.users = ["user-%06d" % self.r.randrange(1_000_000) for _ in range(2000)]

    def uuid(self):
        return "%08x-%04x-4%03x-%04x-%012x" % (
            self.r.getrandbits(32), self.r.getrandbits(16), self.r.getrandbits(12),
            0x8000 | self.r.getrandbits(14), self.r.getrandbits(48))

    def context(self, page, include_library):
        r = self.r
        ua, platform, brand, version = r.choice(BROWSERS)
        path, title = page[2], page[3]
        ctx = {}
        if include_library:
            ctx["library"] = {"name": "analytics.js", "version": "next-1.%d.0" % r.randrange(60, 75)}
        ctx.update({
            "ip": "%d.%d.%d.%d" % (r.randrange(1, 224), r.randrange(256), r.randrange(256), r.randrange(1, 255)),
            "locale": r.choice(LOCALES),
            "timezone": r.choice(TIMEZONES),
            "userAgent": ua,
            "userAgentData": {"brands": [{"brand": brand, "version": version}, {"brand": "Not-A.Brand", "version": "99"}],
                              "mobile": platform == "iOS", "platform": platform},
            "page": {"path": path, "referrer": r.choice(REFERRERS), "search": "",
                     "title": title, "url": "https://www.acme.example" + path},
        })
        campaign = r.choice(CAMPAIGNS)
        if campaign:
            ctx["campaign"] = campaign
        return ctx

    def message(self, kind, shape):
        """One message (a dict) of `kind`; `shape` decides what Segment would have added."""
        r = self.r
        self.serial += 1
        t = self.start + dt.timedelta(seconds=r.random() * self.span)
        sent = t + dt.timedelta(milliseconds=r.randrange(5, 3000))
        received = sent + dt.timedelta(milliseconds=r.randrange(20, 400))
        user = r.choice(self.users)
        known = r.random() < 0.6
        page = r.choice(PAGES)
        m = {"type": kind, "messageId": "%s-%08d-%s" % (PLACEHOLDER, self.serial, self.uuid()[:13]),
             "anonymousId": self.uuid()}
        if known or kind in ("alias", "identify", "group"):
            m["userId"] = user
        m["timestamp"] = iso(t)
        m["originalTimestamp"] = iso(t)
        if shape != "batch":  # a partner-destination delivery: Segment sets these
            m["sentAt"] = iso(sent)
            m["receivedAt"] = iso(received)
            m["channel"] = "client"
            m["version"] = 2
        m["context"] = self.context(page, include_library=True)
        m["integrations"] = r.choice([{}, {"All": True, "Mixpanel": False}, {}])
        if kind == "track":
            m["event"], _ = r.choice(TRACK_EVENTS)
            m["properties"] = {
                "product_id": "sku-%05d" % r.randrange(100000), "name": "Trail Runner %d" % r.randrange(10),
                "category": r.choice(["Shoes", "Apparel", "Gear"]), "price": round(r.uniform(5, 300), 2),
                "quantity": r.randrange(1, 5), "currency": r.choice(["USD", "EUR", "JPY"]),
                "coupon": r.choice([None, "SPRING10", ""]), "position": r.randrange(1, 40),
                "url": "https://www.acme.example/shop/p/%d" % r.randrange(100000),
                "image_url": "https://cdn.acme.example/img/%d.jpg" % r.randrange(100000),
                "variant": {"color": r.choice(["red", "blue", "schwarz"]), "size": r.choice([38, 40, 42, 44])},
                "tags": r.sample(["new", "sale", "eco", "bestseller", "limited"], 2),
            }
        elif kind == "page":
            m["name"], m["category"] = page[0], page[1]
            if m["category"] is None:
                del m["category"]
            m["properties"] = {"path": page[2], "referrer": m["context"]["page"]["referrer"], "search": "",
                               "title": page[3], "url": "https://www.acme.example" + page[2],
                               "scroll_depth": r.randrange(0, 100), "experiment": {"id": "exp-%d" % r.randrange(50),
                               "variant": r.choice(["control", "treatment"])}}
        elif kind == "screen":
            m["name"] = r.choice(SCREENS)
            m["context"]["app"] = {"name": "Acme", "version": "5.%d.1" % r.randrange(20), "build": str(r.randrange(9999))}
            m["context"]["device"] = {"manufacturer": "Apple", "model": "iPhone15,2", "type": "ios"}
            m["properties"] = {"from": r.choice(SCREENS), "load_ms": r.randrange(40, 2000)}
        elif kind == "identify":
            fn, ln = r.choice(FIRST), r.choice(LAST)
            m["traits"] = {"email": "%s.%s@example.com" % (fn.lower(), ln.lower()), "firstName": fn, "lastName": ln,
                           "plan": r.choice(PLANS), "createdAt": iso(t - dt.timedelta(days=r.randrange(1, 900))),
                           "logins": r.randrange(1, 500), "address": {"city": r.choice(["Berlin", "Austin", "Kyoto"]),
                           "country": r.choice(["DE", "US", "JP"])}, "newsletter": r.random() < 0.5}
        elif kind == "group":
            m["groupId"] = "acct-%05d" % r.randrange(3000)
            m["traits"] = {"name": "Company %d" % r.randrange(3000), "industry": r.choice(["Retail", "SaaS", "Media"]),
                           "employees": r.randrange(1, 5000), "plan": r.choice(PLANS),
                           "website": "https://company%d.example" % r.randrange(3000)}
        elif kind == "alias":
            m["previousId"] = m["anonymousId"]
        return m

    def kind(self):
        x = self.r.random()
        if x < 0.70:
            return "track"
        if x < 0.85:
            return "page"
        if x < 0.95:
            return "identify"
        return self.r.choice(["screen", "screen", "group", "alias"])


def dumps(value):
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


# --- rows (COPY text format) ---------------------------------------------------------------------

def copy_text(value):
    if value is None:
        return "\\N"
    s = value if isinstance(value, str) else str(value)
    return s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def row_of(m, tenant_id, envelope_sent, arrival, prefix):
    """The row Inlet stores for message `m` (the envelope's context merged key by key)."""
    table = TABLE_OF[m["type"]]
    ctx = dict(ENVELOPE_LIBRARY) if envelope_sent else {}
    ctx.update(m["context"])
    slug = dict(TRACK_EVENTS)
    values = {
        "tenant_id": tenant_id, "id": m["messageId"].replace(PLACEHOLDER, prefix),
        "anonymous_id": m.get("anonymousId"), "user_id": m.get("userId"), "timestamp": m["timestamp"],
        "original_timestamp": m.get("originalTimestamp"), "sent_at": m.get("sentAt", envelope_sent),
        "received_at": m.get("receivedAt", arrival), "context": dumps(ctx),
        "integrations": dumps(m.get("integrations", {})),
        "event": slug.get(m.get("event")), "event_text": m.get("event"), "properties": dumps(m.get("properties", {})),
        "traits": dumps(m.get("traits", {})), "name": m.get("name"), "category": m.get("category"),
        "group_id": m.get("groupId"), "previous_id": m.get("previousId"),
    }
    return table, "\t".join(copy_text(values[c]) for c in COMMON + OWN[table]) + "\n"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--messages", type=int, default=20000, help="messages in the pool")
    p.add_argument("--batch", type=int, default=100, help="messages per body (array and envelope shapes)")
    p.add_argument("--shape", choices=["single", "array", "batch", "mix"], default="batch",
                   help="single message, bare array, {\"batch\": [...]} envelope, or mix (envelopes and "
                        "arrays alternating, every tenth body a single message)")
    p.add_argument("--now", help="UTC date the traffic ends at (YYYY-MM-DD; default today)")
    p.add_argument("--months-back", type=int, default=3)
    p.add_argument("--out-bodies")
    p.add_argument("--out-rows")
    p.add_argument("--streams", type=int, default=2)
    p.add_argument("--row-prefix", default="copy")
    p.add_argument("--row-passes", type=int, default=1)
    p.add_argument("--tenant-id", type=int, default=1)
    a = p.parse_args()

    if a.now:
        now = dt.datetime.strptime(a.now, "%Y-%m-%d").replace(tzinfo=dt.timezone.utc)
    else:
        today = dt.datetime.now(dt.timezone.utc).date()
        now = dt.datetime(today.year, today.month, today.day, tzinfo=dt.timezone.utc)
    g = Generator(a.seed, now, a.months_back)

    # Bodies: (shape, messages, envelope sentAt or None)
    bodies = []
    left = a.messages
    while left > 0:
        i = len(bodies)
        shape = a.shape
        if shape == "mix":
            shape = "single" if i % 10 == 9 else ("batch" if i % 2 == 0 else "array")
        n = 1 if shape == "single" else min(a.batch, left)
        msgs = [g.message(g.kind(), shape) for _ in range(n)]
        sent = iso(dt.datetime.strptime(max(m["timestamp"] for m in msgs), "%Y-%m-%dT%H:%M:%S.%fZ")
                   + dt.timedelta(seconds=2)) if shape == "batch" else None
        bodies.append((shape, msgs, sent))
        left -= n

    total_bytes = 0
    if a.out_bodies:
        with open(a.out_bodies, "w", encoding="utf-8") as f:
            for shape, msgs, sent in bodies:
                if shape == "single":
                    text = dumps(msgs[0])
                elif shape == "array":
                    text = dumps(msgs)
                else:
                    text = dumps({"batch": msgs, "context": ENVELOPE_LIBRARY, "sentAt": sent})
                total_bytes += sum(len(dumps(m).encode()) for m in msgs)
                f.write(text + "\n")

    rows_written = 0
    if a.out_rows:
        arrival = iso(now)
        streams = []
        for k in range(a.streams):
            d = os.path.join(a.out_rows, "s%d" % k)
            os.makedirs(d, exist_ok=True)
            streams.append({t: open(os.path.join(d, t + ".tsv"), "w", encoding="utf-8") for t in OWN})
            with open(os.path.join(d, "copy.sql"), "w") as f:
                for t in OWN:
                    cols = ", ".join('"%s"' % c for c in COMMON + OWN[t])
                    f.write("\\copy events.%s (%s) FROM '%s'\n" % (t, cols, os.path.abspath(os.path.join(d, t + ".tsv"))))
        # Rendered once per message, the prefix substituted per pass.
        rendered = []
        for shape, msgs, sent in bodies:
            for m in msgs:
                rendered.append(row_of(m, a.tenant_id, sent, arrival, PLACEHOLDER))
        for pass_ in range(a.row_passes):
            prefix = "%s%d" % (a.row_prefix, pass_)
            for i, (table, line) in enumerate(rendered):
                streams[i % a.streams][table].write(line.replace(PLACEHOLDER, prefix, 1))
                rows_written += 1
        for s in streams:
            for f in s.values():
                f.close()

    n = sum(len(b[1]) for b in bodies)
    kinds = {}
    for _, msgs, _ in bodies:
        for m in msgs:
            kinds[m["type"]] = kinds.get(m["type"], 0) + 1
    print("loadgen: %d messages in %d bodies (%s), avg %.0f bytes/message, mix %s, rows %d, timestamps %s .. %s"
          % (n, len(bodies), a.shape, total_bytes / n if total_bytes else 0,
             " ".join("%s=%.1f%%" % (k, 100.0 * v / n) for k, v in sorted(kinds.items())), rows_written,
             g.start.date(), now.date()), file=sys.stderr)


if __name__ == "__main__":
    main()
