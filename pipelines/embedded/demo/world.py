"""The demo's business world, generated a block of customers at a time (bounded memory).

Everything is drawn from one seeded numpy generator, so a seed gives the same lake every time.
Each block yields plain columns for the legacy writer and CRM rows for the sandbox store; the
ground truth is computed here from these domain values, independently of the decoders and SQL.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import numpy as np

from pipelines.embedded.demo import pools

EPOCH = date(1970, 1, 1)
ERP_BASE = 10_000_001
COMPANY_ID_BASE = 20_000_000_000
CONTACT_ID_BASE = 30_000_000_000
DEAL_ID_BASE = 40_000_000_000
RECON_STATUSES = ("matched", "under_invoiced", "over_invoiced", "not_invoiced")


def to_days(d: date) -> int:
    return (d - EPOCH).days


def days_to_ymd(days: np.ndarray) -> np.ndarray:
    """Day numbers → YYYYMMDD ints."""
    dt = days.astype("datetime64[D]")
    y = dt.astype("datetime64[Y]").astype(np.int64) + 1970
    m = dt.astype("datetime64[M]").astype(np.int64) % 12 + 1
    d = (dt - dt.astype("datetime64[M]")).astype(np.int64) + 1
    return y * 10000 + m * 100 + d


def days_to_cyymmdd(days: np.ndarray) -> np.ndarray:
    ymd = days_to_ymd(days)
    return ymd - 19_000_000  # 2026-10-30 → 1261030


def iso_ts(days: np.ndarray, seconds: np.ndarray) -> list[str]:
    base = datetime(1970, 1, 1)
    return [
        (base + timedelta(days=int(d), seconds=int(s))).isoformat(timespec="milliseconds") + "Z"
        for d, s in zip(days, seconds, strict=True)
    ]


@dataclass
class Counters:
    """Running numbers that make ids unique across blocks."""

    company: int = 0
    contact: int = 0
    deal: int = 0
    contract: int = 0
    document: int = 0
    payment: int = 0


@dataclass
class Block:
    customers: dict[str, object]
    items: dict[str, object]
    payments: dict[str, object]
    companies: list[tuple]
    contacts: list[tuple]
    deals: list[tuple]
    associations: list[tuple[str, int, str, int]]
    truth: dict[str, object] = field(default_factory=dict)


def _pick(rng: np.random.Generator, pool: tuple, n: int) -> np.ndarray:
    return rng.integers(0, len(pool), n)


def _iban(rng: np.random.Generator, country: np.ndarray) -> list[str]:
    """Syntactically valid IBANs (mod-97 check digits) with an 18-digit BBAN."""
    n = len(country)
    bank = rng.integers(10_000_000, 99_999_999, n)
    account = rng.integers(0, 10**10, n)
    bban = [f"{b:08d}{a:010d}" for b, a in zip(bank, account, strict=True)]
    out = []
    for cc, b in zip(country, bban, strict=True):
        numeric = b + "".join(str(ord(c) - 55) for c in cc) + "00"
        check = 98 - int(numeric) % 97
        out.append(f"{cc}{check:02d}{b}")
    return out


def generate_block(
    rng: np.random.Generator, start: int, n: int, as_of: date, ctr: Counters
) -> Block:
    as_of_days = to_days(as_of)
    idx = np.arange(start, start + n)
    cust_no = ERP_BASE + idx
    country = np.array(pools.COUNTRIES)[
        rng.choice(len(pools.COUNTRIES), n, p=pools.COUNTRY_WEIGHTS)
    ]
    currency = np.array([pools.CURRENCY[c] for c in country])
    surname = np.array(pools.SURNAMES)[_pick(rng, pools.SURNAMES, n)]
    industry = np.array(pools.INDUSTRIES)[_pick(rng, pools.INDUSTRIES, n)]
    legal = [pools.LEGAL_FORMS[c][rng.integers(len(pools.LEGAL_FORMS[c]))] for c in country]
    name = [f"{s} {i} {lf}" for s, i, lf in zip(surname, industry, legal, strict=True)]
    city = [pools.CITIES[c][rng.integers(len(pools.CITIES[c]))] for c in country]
    street = [
        f"{pools.STREETS[s]} {h}"
        for s, h in zip(_pick(rng, pools.STREETS, n), rng.integers(1, 200, n), strict=True)
    ]
    postcode = [f"{p:05d}" for p in rng.integers(1000, 99999, n)]
    has_vat = np.isin(country, list(pools.EU))
    vat_digits = (cust_no * 7919) % 10**9
    vat = [f"{c}{v:09d}" if h else "" for c, v, h in zip(country, vat_digits, has_vat, strict=True)]
    first = np.array(pools.FIRST_NAMES)[_pick(rng, pools.FIRST_NAMES, n)]
    last = np.array(pools.SURNAMES)[_pick(rng, pools.SURNAMES, n)]
    contact = [f"{f} {s}" for f, s in zip(first, last, strict=True)]
    domain = [
        f"{pools.ascii_fold(s).lower()}-{c}.example" for s, c in zip(surname, cust_no, strict=True)
    ]
    email = [
        pools.ascii_fold(f"{f}.{s}").lower() + f"@{d}"
        for f, s, d in zip(first, last, domain, strict=True)
    ]
    credit = rng.choice([5, 10, 25, 50, 100, 250, 500], n) * 1000 * 100
    terms_idx = rng.choice(len(pools.PAYMENT_TERMS), n, p=pools.PAYMENT_TERM_WEIGHTS)
    terms = np.array(pools.PAYMENT_TERMS)[terms_idx]
    term_days = np.array(pools.PAYMENT_TERM_DAYS)[terms_idx]
    created = rng.integers(to_days(date(1995, 1, 1)), as_of_days - 30, n)
    status = np.array(["A", "B", "I"])[rng.choice(3, n, p=[0.93, 0.04, 0.03])]
    risk = rng.integers(1, 6, n)
    customers = {
        "cust_no": cust_no,
        "name": [nm[:40].rstrip() for nm in name],
        "street": street,
        "postcode": postcode,
        "city": city,
        "country": country,
        "vat": vat,
        "iban": _iban(rng, country),
        "contact": contact,
        "email": email,
        "credit": credit,
        "currency": currency,
        "terms": terms,
        "created": created,
        "status": status,
        "risk": risk,
    }

    # ---------- CRM companies for customers (85 %) and prospects only the CRM knows
    in_crm = rng.random(n) < 0.85
    k = int(in_crm.sum())
    comp_id = COMPANY_ID_BASE + ctr.company + np.arange(k)
    ctr.company += k
    cust_of_comp = np.flatnonzero(in_crm)
    erp_filled = rng.random(k) < 0.6
    erp_typo = erp_filled & (rng.random(k) < 0.03)
    vat_filled = (rng.random(k) < 0.5) & has_vat[cust_of_comp]
    fold = rng.random(k) < 0.3
    comp_rows: list[tuple] = []
    comp_upd = rng.integers(as_of_days - 700, as_of_days, k)
    comp_sec = rng.integers(0, 86400, k)
    comp_created = comp_upd - rng.integers(0, 2000, k)
    upd_iso = iso_ts(comp_upd, comp_sec)
    cre_iso = iso_ts(comp_created, comp_sec)
    for j in range(k):
        c = cust_of_comp[j]
        nm = name[c]
        if fold[j]:
            nm = pools.ascii_fold(nm)
        erp = ""
        if erp_filled[j]:
            erp = str(90_000_000 + int(cust_no[c]) % 10_000_000) if erp_typo[j] else str(cust_no[c])
        v = ""
        if vat_filled[j]:
            v = vat[c] if j % 3 else f"{vat[c][:2]} {vat[c][2:5]} {vat[c][5:8]} {vat[c][8:]}"
        props = {
            "name": nm,
            "domain": domain[c],
            "city": pools.ascii_fold(city[c]) if fold[j] else city[c],
            "country": pools.COUNTRY_NAMES[country[c]],
            "industry": industry[c],
            "vat_id": v,
            "erp_customer_number": erp,
            "createdate": cre_iso[j],
            "hs_lastmodifieddate": upd_iso[j],
        }
        comp_rows.append((int(comp_id[j]), props, cre_iso[j], upd_iso[j], False, None))

    n_pros = round(n * 0.15)
    pros_id = COMPANY_ID_BASE + ctr.company + np.arange(n_pros)
    ctr.company += n_pros
    pros_country = np.array(pools.COUNTRIES)[
        rng.choice(len(pools.COUNTRIES), n_pros, p=pools.COUNTRY_WEIGHTS)
    ]
    pros_archived = rng.random(n_pros) < 0.1
    pros_vat = rng.random(n_pros) < 0.3
    pros_upd = rng.integers(as_of_days - 700, as_of_days, n_pros)
    pros_sec = rng.integers(0, 86400, n_pros)
    pros_iso = iso_ts(pros_upd, pros_sec)
    arch_iso = iso_ts(np.minimum(pros_upd + 5, as_of_days - 1), pros_sec)
    for j in range(n_pros):
        cc = pros_country[j]
        props = {
            "name": f"{pools.SURNAMES[rng.integers(len(pools.SURNAMES))]} "
            f"{pools.INDUSTRIES[rng.integers(len(pools.INDUSTRIES))]} Interessent",
            "domain": f"prospect-{int(pros_id[j])}.example",
            "city": pools.CITIES[cc][0],
            "country": pools.COUNTRY_NAMES[cc],
            "industry": pools.INDUSTRIES[rng.integers(len(pools.INDUSTRIES))],
            "vat_id": f"ATU{int(rng.integers(10**7, 10**8))}" if pros_vat[j] else "",
            "erp_customer_number": "",
            "createdate": pros_iso[j],
            "hs_lastmodifieddate": pros_iso[j],
        }
        comp_rows.append(
            (
                int(pros_id[j]),
                props,
                pros_iso[j],
                arch_iso[j] if pros_archived[j] else pros_iso[j],
                bool(pros_archived[j]),
                arch_iso[j] if pros_archived[j] else None,
            )
        )

    # ---------- contacts: the finance contact person plus 0-2 more per company
    contact_rows: list[tuple] = []
    assoc: list[tuple[str, int, str, int]] = []
    per_comp = rng.integers(1, 4, k)
    for j in range(k):
        c = cust_of_comp[j]
        for m in range(per_comp[j]):
            cid = CONTACT_ID_BASE + ctr.contact
            ctr.contact += 1
            if m == 0:
                fn, ln, em = str(first[c]), str(last[c]), email[c]
            else:
                fn = pools.FIRST_NAMES[rng.integers(len(pools.FIRST_NAMES))]
                ln = pools.SURNAMES[rng.integers(len(pools.SURNAMES))]
                em = pools.ascii_fold(f"{fn}.{ln}").lower() + f".{m}@{domain[c]}"
            archived = bool(m > 0 and rng.random() < 0.05)
            ts = upd_iso[j]
            props = {
                "firstname": fn,
                "lastname": ln,
                "email": em,
                "phone": f"+49 {rng.integers(30, 999)} {rng.integers(100000, 9999999)}",
                "jobtitle": pools.JOB_TITLES[rng.integers(len(pools.JOB_TITLES))],
                "createdate": cre_iso[j],
                "lastmodifieddate": ts,
            }
            contact_rows.append((cid, props, cre_iso[j], ts, archived, ts if archived else None))
            assoc.append(("contacts", cid, "companies", int(comp_id[j])))

    # ---------- deals; closed-won deals are contracts and drive contract invoices
    n_deals = rng.poisson(1.2, k)
    d_comp = np.repeat(np.arange(k), n_deals)
    nd = len(d_comp)
    d_id = DEAL_ID_BASE + ctr.deal + np.arange(nd)
    ctr.deal += nd
    stage_roll = rng.random(nd)
    won = stage_roll < 0.45
    lost = (stage_roll >= 0.45) & (stage_roll < 0.65)
    open_stage = np.array(pools.DEAL_OPEN_STAGES)[_pick(rng, pools.DEAL_OPEN_STAGES, nd)]
    stage = np.where(won, "closedwon", np.where(lost, "closedlost", open_stage))
    amount = rng.integers(50, 2000, nd) * 100 * 100
    closed_days = np.where(
        won | lost, as_of_days - rng.integers(30, 500, nd), as_of_days + rng.integers(1, 270, nd)
    )
    d_cust = cust_of_comp[d_comp]
    d_cur = currency[d_cust]
    d_archived = lost & (rng.random(nd) < 0.2)
    recon = np.full(nd, "", dtype=object)
    n_won = int(won.sum())
    recon[won] = np.array(RECON_STATUSES)[rng.choice(4, n_won, p=[0.6, 0.15, 0.1, 0.15])]
    contract = np.full(nd, "", dtype=object)
    contract[won] = [f"K{ctr.contract + i:011d}" for i in range(n_won)]
    ctr.contract += n_won
    d_upd = np.minimum(closed_days, as_of_days - 1) - rng.integers(0, 20, nd)
    d_sec = rng.integers(0, 86400, nd)
    d_iso = iso_ts(d_upd, d_sec)
    close_iso = iso_ts(closed_days, np.zeros(nd, dtype=np.int64))
    deal_rows: list[tuple] = []
    for j in range(nd):
        props = {
            "dealname": f"{name[d_cust[j]][:30]} – Rahmenvertrag {j % 7 + 1}",
            "amount": f"{amount[j] // 100}.{amount[j] % 100:02d}",
            "closedate": close_iso[j],
            "dealstage": str(stage[j]),
            "pipeline": "default",
            "deal_currency_code": str(d_cur[j]),
            "contract_reference": str(contract[j]),
            "createdate": d_iso[j],
            "hs_lastmodifieddate": d_iso[j],
        }
        deal_rows.append(
            (
                int(d_id[j]),
                props,
                d_iso[j],
                d_iso[j],
                bool(d_archived[j]),
                d_iso[j] if d_archived[j] else None,
            )
        )
        assoc.append(("deals", int(d_id[j]), "companies", int(comp_id[d_comp[j]])))

    # contract invoices: split the invoiced total into 1-4 instalments
    inv_deal = np.flatnonzero(won & (recon != "not_invoiced"))
    factor = np.ones(len(inv_deal))
    r = recon[inv_deal]
    factor[r == "under_invoiced"] = rng.uniform(0.4, 0.9, int((r == "under_invoiced").sum()))
    factor[r == "over_invoiced"] = rng.uniform(1.05, 1.3, int((r == "over_invoiced").sum()))
    total = np.round(amount[inv_deal] * factor).astype(np.int64)
    inst = rng.integers(1, 5, len(inv_deal))
    ci_deal = np.repeat(inv_deal, inst)
    ci_k = np.concatenate([np.arange(m) for m in inst]) if len(inst) else np.zeros(0, np.int64)
    ci_m = np.repeat(inst, inst)
    ci_base = np.repeat(total // inst, inst)
    ci_amount = ci_base + np.where(ci_k == ci_m - 1, np.repeat(total, inst) - ci_base * ci_m, 0)
    ci_cust = d_cust[ci_deal]
    ci_contract = contract[ci_deal]

    # ---------- other documents: invoices and credit notes without a contract
    n_other = rng.poisson(8, n)
    oi_cust = np.repeat(np.arange(n), n_other)
    no = len(oi_cust)
    o_amount = np.maximum(np.round(np.exp(rng.normal(7.0, 1.1, no)) * 100), 100).astype(np.int64)
    credit_note = rng.random(no) < 0.06
    o_amount = np.where(credit_note, -o_amount, o_amount)

    item_cust = np.concatenate([ci_cust, oi_cust]).astype(np.int64)
    item_amount = np.concatenate([ci_amount, o_amount]).astype(np.int64)
    item_contract = np.concatenate([ci_contract, np.full(no, "", dtype=object)])
    item_cn = np.concatenate([np.zeros(len(ci_cust), bool), credit_note])
    ni = len(item_cust)
    doc_no_num = ctr.document + np.arange(ni)
    ctr.document += ni
    doc_date = as_of_days - rng.integers(0, 540, ni)
    due = doc_date + term_days[item_cust]
    # How customers pay, as a German B2B ledger looks: most pay on time (some early), a
    # minority is slow, a few are bad payers who leave items open for months. Each item is
    # paid on due + delay; it is open at the as-of date if that day has not come yet.
    profile = rng.choice(3, n, p=[0.80, 0.16, 0.04])[item_cust]  # good, slow, bad
    delay = np.select(
        [profile == 0, profile == 1],
        [
            np.where(
                rng.random(ni) < 0.03,
                rng.integers(3, 35, ni),
                -rng.integers(0, np.maximum(term_days[item_cust], 1), ni) // 2,
            ),
            rng.integers(0, 50, ni),
        ],
        rng.integers(20, 240, ni),
    )
    never = (profile == 2) & (rng.random(ni) < 0.15)
    paid_on = np.maximum(due + delay, doc_date)
    is_paid = (paid_on <= as_of_days) & ~never
    partial = ~is_paid & (profile > 0) & (due < as_of_days) & (rng.random(ni) < 0.15)
    frac = rng.uniform(0.1, 0.9, ni)
    paid = np.where(is_paid, item_amount, np.where(partial, np.round(item_amount * frac), 0))
    # credit notes are mostly applied (offset) soon after they are issued
    cn_cleared = item_cn & (rng.random(ni) < 0.85)
    paid = np.where(item_cn, np.where(cn_cleared, item_amount, 0), paid).astype(np.int64)
    open_amt = item_amount - paid
    days_over = as_of_days - due
    dunning = np.where(
        (open_amt > 0) & (days_over > 60),
        3,
        np.where(
            (open_amt > 0) & (days_over > 30), 2, np.where((open_amt > 0) & (days_over > 14), 1, 0)
        ),
    )
    items = {
        "doc_no": [
            f"{'GS' if cn else 'RE'}{d:08d}" for cn, d in zip(item_cn, doc_no_num, strict=True)
        ],
        "cust_no": cust_no[item_cust],
        "doc_type": np.where(item_cn, "GS", "RE"),
        "doc_date": doc_date,
        "due": due,
        "amount": item_amount,
        "open": open_amt,
        "currency": currency[item_cust],
        "contract": item_contract,
        "dunning": dunning,
        "text": np.array(pools.ITEM_TEXTS)[_pick(rng, pools.ITEM_TEXTS, ni)],
        "is_contract": np.concatenate([np.ones(len(ci_cust), bool), np.zeros(no, bool)]),
    }

    has_pay = paid != 0
    p_item = np.flatnonzero(has_pay)
    npay = len(p_item)
    # paid in full on the day it was paid; a part payment some day between issue and as-of
    span = np.maximum(as_of_days - doc_date[p_item], 1)
    part_day = doc_date[p_item] + rng.integers(0, 1_000_000, npay) % span
    value_date = np.where(is_paid[p_item], np.minimum(paid_on[p_item], as_of_days), part_day)
    method = np.array(["UE", "LS", "SC"])[rng.choice(3, npay, p=[0.7, 0.25, 0.05])]
    method = np.where(item_cn[p_item], "VR", method)
    payments = {
        "payment_id": [f"Z{ctr.payment + i:011d}" for i in range(npay)],
        "cust_no": cust_no[item_cust[p_item]],
        "doc_no": [items["doc_no"][i] for i in p_item],
        "value_date": value_date,
        "amount": paid[p_item],
        "currency": currency[item_cust[p_item]],
        "method": method,
    }
    ctr.payment += npay

    block = Block(customers, items, payments, comp_rows, contact_rows, deal_rows, assoc)
    block.truth = {
        "in_crm": in_crm,
        "erp_ok": erp_filled & ~erp_typo,
        "vat_ok": vat_filled,
        "erp_filled": erp_filled,
        "cust_of_comp": cust_of_comp,
        "n_prospects_active": int((~pros_archived).sum()),
        "n_prospects_archived": int(pros_archived.sum()),
        "recon": recon[won & ~d_archived],
        "won_total": int(won.sum()),
    }
    return block
