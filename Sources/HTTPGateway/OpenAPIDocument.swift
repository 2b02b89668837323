/// `/openapi.json`: the OpenAPI 3.0 description of sdcluster's own routes (the batch API, status
/// and metrics) and of the A1111-compatible txt2img call. Written by hand, as the routes are.
enum OpenAPIDocument {
    static let json = #"""
{
  "openapi": "3.0.3",
  "info": {"title": "sdcluster HTTP gateway", "version": "1",
           "description": "The coordinator's HTTP front door. With API keys (--http-keys) every route but /metrics and / needs 'Authorization: Bearer KEY'; without them (loopback only) none does."},
  "components": {
    "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
    "schemas": {
      "Counts": {"type": "object", "properties": {
        "queued": {"type": "integer"}, "running": {"type": "integer"}, "done": {"type": "integer"},
        "failed": {"type": "integer"}, "cancelled": {"type": "integer"}, "total": {"type": "integer"}}},
      "Batch": {"type": "object", "required": ["id", "name", "state", "counts"], "properties": {
        "id": {"type": "string"}, "name": {"type": "string"},
        "state": {"type": "string", "description": "active, finished or cancelled"},
        "counts": {"$ref": "#/components/schemas/Counts"}}},
      "BatchDetail": {"allOf": [{"$ref": "#/components/schemas/Batch"}, {"type": "object", "properties": {
        "images": {"type": "array", "description": "Finished images (done, failed or cancelled); images not listed are queued or running.",
                   "items": {"type": "object", "properties": {
                     "index": {"type": "integer"}, "state": {"type": "string"}, "file": {"type": "string"},
                     "url": {"type": "string"}, "error": {"type": "string"}}}}}}]},
      "Accepted": {"type": "object", "properties": {
        "id": {"type": "string"}, "name": {"type": "string"}, "submission_id": {"type": "string"}, "count": {"type": "integer"}}},
      "Error": {"type": "object", "properties": {"error": {"type": "object", "properties": {
        "code": {"type": "string"}, "message": {"type": "string"}}}}}
    },
    "responses": {
      "Error": {"description": "What was wrong and what to do", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    },
    "parameters": {
      "id": {"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}
    }
  },
  "security": [{"bearer": []}, {}],
  "paths": {
    "/v1/batches": {
      "post": {"summary": "Submit a prompt list (the lines `sdcluster submit` takes); answered once the batch is durable",
        "parameters": [
          {"name": "name", "in": "query", "schema": {"type": "string"}, "description": "A name for the batch"},
          {"name": "submission_id", "in": "query", "schema": {"type": "string"}, "description": "Makes a retried POST return the same batch (or the Idempotency-Key header)"}],
        "requestBody": {"required": true, "content": {"application/jsonl": {"schema": {"type": "string", "minLength": 1},
          "example": "{\"prompt\": \"a red circle\", \"seed\": 1, \"count\": 4}\n"}, "text/plain": {"schema": {"type": "string", "minLength": 1}}}},
        "responses": {"201": {"description": "Accepted", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Accepted"}}}},
                      "422": {"$ref": "#/components/responses/Error"}, "429": {"$ref": "#/components/responses/Error"},
                      "503": {"$ref": "#/components/responses/Error"}}},
      "get": {"summary": "Every batch this gateway's key may see",
        "responses": {"200": {"description": "Batches", "content": {"application/json": {"schema": {"type": "object", "properties": {
          "batches": {"type": "array", "items": {"$ref": "#/components/schemas/Batch"}}}}}}}}}
    },
    "/v1/batches/{id}": {
      "parameters": [{"$ref": "#/components/parameters/id"}],
      "get": {"summary": "Counts and finished images of a batch",
        "responses": {"200": {"description": "The batch", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/BatchDetail"}}}},
                      "404": {"$ref": "#/components/responses/Error"}}},
      "delete": {"summary": "Cancel a batch: unfinished images become cancelled, finished ones stay",
        "responses": {"200": {"description": "Counts after the cancel", "content": {"application/json": {"schema": {"type": "object", "properties": {
          "id": {"type": "string"}, "counts": {"$ref": "#/components/schemas/Counts"}}}}}},
                      "404": {"$ref": "#/components/responses/Error"}}}
    },
    "/v1/batches/{id}/manifest.jsonl": {
      "parameters": [{"$ref": "#/components/parameters/id"}],
      "get": {"summary": "The manifest lines of the finished images, in the order they finished",
        "responses": {"200": {"description": "JSON lines", "content": {"application/jsonl": {"schema": {"type": "string"}}}},
                      "404": {"$ref": "#/components/responses/Error"}}}
    },
    "/v1/batches/{id}/images/{file}": {
      "parameters": [{"$ref": "#/components/parameters/id"}, {"name": "file", "in": "path", "required": true, "schema": {"type": "string"}}],
      "get": {"summary": "One finished PNG (with its A1111 `parameters` text chunk)",
        "responses": {"200": {"description": "The PNG", "content": {"image/png": {"schema": {"type": "string", "format": "binary"}}}},
                      "404": {"$ref": "#/components/responses/Error"}}}
    },
    "/v1/status": {
      "get": {"summary": "Workers, batches, throughput, problems and the latest images (what the status page shows)",
        "responses": {"200": {"description": "Status", "content": {"application/json": {"schema": {"type": "object"}}}}}}
    },
    "/metrics": {
      "get": {"summary": "Prometheus metrics (no key needed)", "security": [],
        "responses": {"200": {"description": "Text format 0.0.4", "content": {"text/plain": {"schema": {"type": "string"}}}}}}
    },
    "/sdapi/v1/txt2img": {
      "post": {"summary": "AUTOMATIC1111-compatible text to image; extra fields guidance_cutoff (0...1) and late_pass (uncond|cond)",
        "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object"}}}},
        "responses": {"200": {"description": "images (base64 PNGs), parameters, info (JSON text)",
                              "content": {"application/json": {"schema": {"type": "object", "properties": {
                                "images": {"type": "array", "items": {"type": "string"}}, "parameters": {"type": "object"},
                                "info": {"type": "string"}}}}}},
                      "422": {"description": "Invalid fields, FastAPI's shape: {\"detail\": [{\"loc\", \"msg\", \"type\"}]}"}}}
    }
  }
}
"""#
}
