"""`minqing serve`: the Open311 GeoReport v2 API (issue 21), read-only, on FastAPI and uvicorn.

    GET /discovery.json|xml                  service discovery
    GET /services.json|xml                   the 15 categories as services
    GET /requests.json|xml?…                 service requests (filters: minqing/publishing/open311.py)
    GET /requests/{service_request_id}.json|xml
    GET /health                              200 when the warehouse answers (the compose health check)

Every connection of the pool (psycopg_pool) sets the role open311_reader (migration 0020) before it serves
a request: the API reads only the marts dbt grants that role, whoever the login is. Errors are the
standard's list of {code, description}: 400 for a bad parameter, 404 for an unknown id or format.
"""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from psycopg_pool import ConnectionPool

from minqing import config, warehouse
from minqing.publishing import open311

log = logging.getLogger(__name__)

URL_ENV = "OPEN311_DATABASE_URL"  # a login granted open311_reader; else the warehouse's URL
FORMATS = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}


def create_app(url: str | None = None):
    """The ASGI app; `url`: the database (default OPEN311_DATABASE_URL, else the warehouse's)."""
    target = url or config.env(URL_ENV) or warehouse.url()
    size = int(open311.settings()["pool_size"])
    pool = ConnectionPool(target, min_size=1, max_size=size, configure=open311.as_reader, open=False,
                          name="open311")

    @asynccontextmanager
    async def lifespan(app):
        pool.open(wait=True, timeout=30)
        try:
            yield
        finally:
            pool.close()

    app = FastAPI(title="minqing Open311 GeoReport v2", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None)

    def answer(fmt: str, root: str, item: str | None, payload, status: int = 200) -> Response:
        if fmt == "xml":
            return Response(open311.to_xml(root, item, payload), status_code=status, media_type=FORMATS["xml"])
        return JSONResponse(payload, status_code=status, media_type=FORMATS["json"])

    def error(fmt: str, status: int, description: str) -> Response:
        return answer(fmt if fmt in FORMATS else "json", "errors", "error", open311.errors_body(status, description),
                      status)

    def checked(fmt: str) -> str:
        if fmt not in FORMATS:
            raise open311.Open311Error(404, f"unknown format .{fmt}: .json or .xml")
        return fmt

    @app.exception_handler(open311.Open311Error)
    async def open311_error(request: Request, exc: open311.Open311Error):
        fmt = request.url.path.rsplit(".", 1)[-1] if "." in request.url.path else "json"
        return error(fmt, exc.status, exc.description)

    @app.get("/health")
    def health():
        with pool.connection() as conn:
            conn.execute("select 1 from marts.rpt_open311_services limit 1")
        return {"status": "ok"}

    @app.get("/discovery.{fmt}")
    def discovery(fmt: str, request: Request):
        fmt = checked(fmt)
        with pool.connection() as conn:
            return answer(fmt, "discovery", None, open311.discovery(conn, str(request.base_url)))

    @app.get("/services.{fmt}")
    def services(fmt: str):
        fmt = checked(fmt)
        with pool.connection() as conn:
            return answer(fmt, "services", "service", open311.services(conn))

    @app.get("/requests.{fmt}")
    def requests(fmt: str, request: Request):
        fmt = checked(fmt)
        with pool.connection() as conn:
            query = open311.RequestQuery.parse(dict(request.query_params), open311.service_codes(conn))
            return answer(fmt, "service_requests", "request", open311.requests(conn, query))

    @app.get("/requests/{service_request_id}.{fmt}")
    def one_request(service_request_id: str, fmt: str):
        fmt = checked(fmt)
        with pool.connection() as conn:
            return answer(fmt, "service_requests", "request", [open311.request_by_id(conn, service_request_id)])

    @app.exception_handler(404)
    async def not_found(request: Request, exc):
        return error("json", 404, f"no such endpoint {request.url.path}: GET /discovery.json lists them")

    return app


def serve(host: str = "127.0.0.1", port: int = 8311, url: str | None = None) -> None:
    """Run the API until interrupted (uvicorn, one process: the pool's connections are its concurrency)."""
    import uvicorn

    uvicorn.run(create_app(url), host=host, port=port, log_level="info")
