#!/usr/bin/env python3
"""Write the API targets' seed inputs (fuzz/api_harness.h's format) into
fuzz/corpus/{sessions_api,lumx_api,idempotency}/seed-*: one valid request
per route of the route table (src/api/api.c), a few list queries, and
raw-mode requests (method and path as sent). Run from the repository root."""
import os
import re

H_IDEM, H_NO_TYPE, H_IF_MATCH, H_HEAD = 1, 2, 8, 16
LUMX_ROOTS = ("customers", "destinations", "transactions", "exchange-rates", "partner-fees")

SEPA = ('{"method":"bank_transfer","fiat_rail":"sepa_credit_transfer","currency":"EUR",'
        '"beneficiary_name":"Acme Treasury","reference_hint":null,"bank_coordinates":{"scheme":"iban",'
        '"account_holder_name":"Acme Treasury","bank_name":"Demo Bank","bic":"NWBKGB2L","country":"GB",'
        '"iban":"GB29NWBK60161331926819"}}')
SESSION = ('{"account_ref":"client-accounts/@A","amount":{"currency":"USDC","value":"12.34"},'
           '"destination":{"destination":' + SEPA + ',"fiat_rail":"sepa_credit_transfer",'
           '"method":"bank_transfer","payment_reference":"RF18539007547034","route_owner_ref":"clients/@C",'
           '"withdrawal_destination_id":"@D"},"target_currency":"EUR","target_rail":"fiat","metadata":{"a":0.10}}')
HOLDER = ('{"type":"BUSINESS","relationship":"SELF","legalName":"Acme Treasury GmbH","taxId":"DE123456789",'
          '"email":"treasury@acme.example","incorporationDate":"2015-04-01","address":{"line1":"Unter den Linden 1",'
          '"city":"Berlin","state":"BE","postalCode":"10117","country":"DEU"}}')
IDENTS = {
    "SEPA": ("EUR", '{"iban":"DE89370400440532013000","bic":"COBADEFFXXX"}'),
    "ACH": ("USD", '{"routingNumber":"021000021","accountNumber":"12345678","accountType":"CHECKING"}'),
    "FASTER_PAYMENTS": ("GBP", '{"sortCode":"60-16-13","accountNumber":"31926819"}'),
    "PIX": ("BRL", '{"keyType":"EMAIL","keyValue":"Pix@Example.com.br"}'),
    "SPEI": ("MXN", '{"clabe":"032180000118359719"}'),
    "SWIFT": ("USD", '{"bic":"DEUTDEFF","accountNumber":"0532013000"}'),
}

BODIES = {
    ("POST", "/clients"): ['{"display_name":"Seed Co"}'],
    ("POST", "/client-accounts"): ['{"client_ref":"clients/@C"}'],
    ("POST", "/sandbox/deposits"): ['{"account_ref":"client-accounts/@A","amount":{"currency":"USDT","value":"5.000001"}}'],
    ("POST", "/withdrawal-destinations"): ['{"account_ref":"client-accounts/@A","destination":' + SEPA + '}',
                                           '{"account_ref":"client-accounts/@A","method":"crypto_transfer","asset":"USDC",'
                                           '"network":"base","destination":{"address":"0x52908400098527886E0F7030069857D2E4169EE7",'
                                           '"memo":null},"label":"hot"}'],
    ("POST", "/off-ramp-sessions"): [SESSION],
    ("PUT", "/policies/off-ramp-approval"): ['{"threshold":{"currency":"USDC","value":"7000.00"}}', '{"threshold":null}'],
    ("POST", "/webhook-endpoints"): ['{"url":"http://127.0.0.1:9/h2","event_types":["*"],"format":"lumx"}'],
    ("PATCH", "/webhook-endpoints/{id}"): ['{"enabled":false}', '{"url":"http://[::1]:8/x","event_types":["session.completed"]}'],
    ("POST", "/webhook-endpoints/{id}/resend"): ['{"event_id":"@S"}'],
    ("POST", "/customers"): ['{"type":"INDIVIDUAL","name":"Maria Silva","country":"BRA","email":"maria@example.com",'
                             '"taxId":"52998224725","birthDate":"1990-05-17","metadata":{"n":1e2}}'],
    ("PUT", "/customers/{id}/limits"): ['{"perTransaction":"1000.00","daily":"5000.00","monthly":"20000.00"}'],
    ("POST", "/destinations"): ['{"customerId":"@K","name":"%s account","rail":"%s","currency":"%s","identifier":%s,"holder":%s}'
                                % (r, r, c, i, HOLDER) for r, (c, i) in IDENTS.items()],
    ("POST", "/transactions/off-ramp"): ['{"bankAccountId":"@L","sourceCurrency":"USDC","sourceAmount":"10.05",'
                                         '"purpose":"PERSONAL_ACCOUNT","memo":"INV-1","metadata":{"orderId":"o-1","x":[1.0,2]}}',
                                         '{"bankAccountId":"@L","sourceCurrency":"USDC","sourceAmount":"20.00",'
                                         '"purpose":"TAX","exchangeRateId":"@R","partnerFeeId":"@F","blockchain":"ETHEREUM"}'],
    ("POST", "/exchange-rates"): ['{"sourceCurrency":"USDT","targetCurrency":"BRL","type":"FLOATING"}'],
    ("POST", "/partner-fees"): ['{"name":"p2","basisPoints":25,"flatAmount":"1.00","default":true}'],
}
QUERIES = {
    "/off-ramp-sessions": ["page_size=2&status=executing", "account_ref=client-accounts/@A&page_token=czE6eA"],
    "/approvals": ["status=pending&page_size=1"],
    "/events": ["resource=off-ramp-sessions/@S&page_size=3", "page_token=ZTE6MQ"],
    "/sandbox/payouts": ["session_id=@S"],
    "/webhook-endpoints": ["page_size=1"],
    "/destinations": ["customerId=@K"],
    "/transactions": ["size=1&customerId=@K", "cursor=bjp4&size=2"],
}


def routes():
    text = open("src/api/api.c").read()
    return re.findall(r'X\("(\w+)", "([^"]+)", (\w+),', text)


def lumx(pattern):
    root = pattern.split("/")[1]
    return root in LUMX_ROOTS


FIXTURE = {"clients": "C", "client-accounts": "A", "withdrawal-destinations": "D", "off-ramp-sessions": "S",
           "approvals": "P", "webhook-endpoints": "H", "customers": "K", "destinations": "L", "transactions": "T"}


def raw(method, pattern, query=""):
    """Raw mode's first line: the route by its text, so a seed keeps its
    route when rows are added to the table (byte 0 is 0xff)."""
    path = pattern.replace("{id}", "@" + FIXTURE.get(pattern.split("/")[1], "S"))
    return "%s %s%s" % (method, path, "?" + query if query else "")


def write(dirname, name, sel, flags, tail="", idem="", ifm="", body=""):
    os.makedirs(dirname, exist_ok=True)
    data = bytes([sel, flags]) + ("%s\n%s\n%s\n%s" % (tail, idem, ifm, body)).encode()
    open(os.path.join(dirname, "seed-" + name), "wb").write(data)


def i_of(routes_, m, p):
    return routes_.index((m, p))


def main():
    rt = routes()
    for surface, is_lumx in (("sessions_api", False), ("lumx_api", True)):
        d = "fuzz/corpus/" + surface
        mine = [(m, p) for m, p, h in rt if lumx(p) == is_lumx]
        for m, p in mine:
            slug = (m + p).lower().replace("/", "-").replace("{id}", "id")
            bodies = BODIES.get((m, p), [""])
            for j, b in enumerate(bodies):
                flags = H_IDEM if m == "POST" else 0
                if not b and m in ("POST", "PUT", "PATCH"):
                    flags |= H_NO_TYPE
                write(d, "%s-%d" % (slug, j), 0xff, flags, raw(m, p), "", "", b)
            for j, q in enumerate(QUERIES.get(p, []) if m == "GET" else []):
                write(d, "%s-q%d" % (slug, j), 0xff, 0, raw(m, p, q))
            if m == "PATCH":
                write(d, slug + "-ifmatch", 0xff, H_IF_MATCH, raw(m, p), "", 'W/"v1", "v2"', bodies[0])
            if m == "GET" and "{id}" in p:
                write(d, slug + "-head", 0xff, 0, raw("HEAD", p))
                write(d, slug + "-badid", 0xff, 0, raw(m, p.replace("{id}", "0190A1B2-C3D4-7E5F-8A9B-0C1D2E3F4A5B")))
                write(d, slug + "-byindex", i_of(mine, m, p), 0, "@")
        write(d, "raw-405", 0xff, 0, "DELETE /clients" if not is_lumx else "PATCH /transactions")
        write(d, "raw-404", 0xff, 0, "GET /nowhere?x=1")
    # idempotency: POST routes of both surfaces, table order.
    posts = [(m, p) for m, p, h in rt if m == "POST"]
    d = "fuzz/corpus/idempotency"
    for i, (m, p) in enumerate(posts):
        slug = p.lower().replace("/", "-").replace("{id}", "id")
        b = BODIES.get((m, p), [""])[0]
        write(d, slug, i, 0, "@" if "{id}" in p else "", "@S" if not lumx(p) else "", "", b)
        write(d, slug + "-spaced", i, 0, "@" if "{id}" in p else "", "key-" + slug if not lumx(p) else "",
              "", b.replace(",", ", ").replace(":", " : "))
    write(d, "bad-key-empty", 0, 0, "", "~", "", BODIES[("POST", "/clients")][0])
    write(d, "bad-key-long", 0, 0, "", "k" * 256, "", BODIES[("POST", "/clients")][0])
    write(d, "bad-key-ctl", 0, 0, "", "k\x7f", "", BODIES[("POST", "/clients")][0])


main()
