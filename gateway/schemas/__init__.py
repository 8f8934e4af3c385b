"""Request and response bodies of the HTTP API, one module per router in `gateway/routes/`, with the
examples shown in the OpenAPI docs; `common` holds what several routers share."""
