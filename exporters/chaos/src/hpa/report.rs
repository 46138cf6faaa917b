//! What one watch measured, and how it is printed at the end.

use std::time::Duration;

/// What one watch measured.
#[derive(Debug, Clone, Default)]
pub struct HpaReport {
    pub namespace: String,
    pub hpa: String,
    /// e.g. Deployment/kubeserve.
    pub target: String,
    /// The load started (the clocks ran).
    pub load_started: bool,
    /// The load Job finished while watched.
    pub load_finished: bool,
    pub initial_replicas: i32,
    pub scale_up: Option<Duration>,
    /// Replica count -> load start to the first time that many were Ready.
    pub ready: Vec<(i32, Duration)>,
    pub peak_desired: i32,
    pub peak_ready: i32,
    pub max_replicas: i32,
}

impl HpaReport {
    /// Load start to the first new replica Ready.
    pub fn first_ready(&self) -> Option<Duration> {
        self.ready.first().map(|r| r.1)
    }
}

impl std::fmt::Display for HpaReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let secs = |d: Option<Duration>| match d {
            Some(d) => format!("{:.1} s", d.as_secs_f64()),
            None => "not seen".into(),
        };
        writeln!(
            f,
            "HPA {}/{} -> {} (max {} replicas)",
            self.namespace, self.hpa, self.target, self.max_replicas
        )?;
        if !self.load_started {
            return writeln!(f, "  the load never started: nothing was timed");
        }
        writeln!(
            f,
            "  replicas at the load's start: {}",
            self.initial_replicas
        )?;
        writeln!(
            f,
            "  first scale-up after:          {}",
            secs(self.scale_up)
        )?;
        writeln!(
            f,
            "  first new replica Ready after: {}",
            secs(self.first_ready())
        )?;
        for (n, at) in &self.ready {
            writeln!(f, "    {n} replicas Ready after {:.1} s", at.as_secs_f64())?;
        }
        writeln!(
            f,
            "  peak: {} desired, {} Ready{}",
            self.peak_desired,
            self.peak_ready,
            if self.load_finished {
                "; the load finished"
            } else {
                ""
            }
        )
    }
}
