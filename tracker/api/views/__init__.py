"""The API's endpoints, one module per resource; each view checks permissions and calls a service."""
