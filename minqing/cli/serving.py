"""Commands that serve or hand out published data: `minqing serve` (the Open311 API) and `minqing export`."""

from __future__ import annotations

import sys

from minqing.cli._common import _date


def _cmd_serve(args) -> int:
    from minqing import warehouse
    from minqing.publishing import open311_api

    if not args.url and warehouse.is_embedded():
        warehouse.start()  # the embedded server up and migrated (an external one: migrated by its pipeline)
    print(f"serve: Open311 GeoReport v2 on http://{args.host}:{args.port}/discovery.json "
          f"(requests: /requests.json, services: /services.json; Ctrl-C stops it)", file=sys.stderr)
    open311_api.serve(args.host, args.port, args.url)
    return 0


def _cmd_export(args) -> int:
    from minqing import warehouse
    from minqing.publishing import open311

    warehouse.start()
    count = open311.export(args.out, args.start, args.end)
    print(f"export open311: {count} service requests received {args.start} .. {args.end} in {args.out}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("serve", help="the Open311 GeoReport v2 API over the published marts (read-only; see README: "
                                     "Open311)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8311, help="port (default 8311)")
    p.add_argument("--url", help="the database, as a login granted open311_reader (default: OPEN311_DATABASE_URL, "
                                 "else the warehouse's URL)")
    p.set_defaults(func=_cmd_serve)

    p = sub.add_parser("export", help="bulk files of published data")
    what = p.add_subparsers(dest="what", required=True)
    e = what.add_parser("open311", help="the service requests received in a range of days, as Open311 GeoReport v2 "
                                        "records: .json (as GET /requests.json) or .csv (RFC 4180)")
    e.add_argument("--start", type=_date, required=True, help="first day received (YYYY-MM-DD)")
    e.add_argument("--end", type=_date, required=True, help="last day received (YYYY-MM-DD)")
    e.add_argument("--out", required=True, help="the file: FILE.json or FILE.csv")
    e.set_defaults(func=_cmd_export)
