//! The series of `redline fit`: how much of a small-VPS budget a namespace's workload would
//! use (the VPS seed's resource limits), judged by the `RedlineFit*` alerts in
//! `alerts/chaos.yml`.

label_sets! {
    BudgetResource { budget, resource }
}

catalogue! {
    FIT_BUDGET_RATIO: Gauge<BudgetResource> = "redline_fit_budget_ratio",
        "Measured usage over the budget (e.g. budget=vps-6g-3cpu, resource=cpu|memory); above 1 does not fit.";
}
