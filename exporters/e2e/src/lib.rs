//! Cross-daemon end-to-end tests. No daemon imports another, so tests that run two of
//! them together (churn scaling Deployments while dst-client watches the Destination
//! API, say) live here, on the shared test servers, and nowhere else.
