"""Operations: health checks, the metrics endpoint, request context for logs, and the
graceful drain (docs/operations.md). Imports the runtime's rules nowhere: the runtime
imports `chatsite.metrics` and `ops.logs` hooks, never the other way round."""
