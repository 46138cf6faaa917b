//! The two macros every daemon module of the catalogue expands, so a series is declared
//! once: its label set once (`label_sets!`), and its name, kind and help once
//! (`catalogue!`), which yields the typed constant, the module's `ALL` and its `Families`.
//!
//! Nobody writes these invocations by hand: the series are data in `metrics/<module>.toml`,
//! and the build script (`build/daemon.rs`) writes them to `$OUT_DIR/<module>.rs`, which the
//! module includes. What it writes looks like this:
//!
//! ```text
//! label_sets! {
//!     ServicePattern { service, pattern }
//! }
//! catalogue! {
//!     SCALE_EVENTS: Counter<ServicePattern> = "redline_churn_scale_events_total",
//!         "Scale events applied, by pattern.";
//!     EVENTS_IN_FLIGHT: Gauge = "redline_churn_events_in_flight",
//!         "Scale events not yet converged.";
//! }
//! ```
//! A daemon then registers `Families { SCALE_EVENTS: family, EVENTS_IN_FLIGHT: gauge }`,
//! and the compiler checks that every entry is there with the right labels and kind.

/// Declares label sets: a struct per set whose `String` fields are the label keys in the
/// order they are exposed, deriving what a prometheus-client `Family` needs.
macro_rules! label_sets {
    ($( $(#[$meta:meta])* $set:ident { $($key:ident),+ $(,)? } )*) => {$(
        $(#[$meta])*
        #[derive(Clone, Debug, Hash, PartialEq, Eq, prometheus_client::encoding::EncodeLabelSet)]
        pub struct $set {
            $(pub $key: String,)+
        }

        impl $crate::LabelSet for $set {
            const KEYS: &'static [&'static str] = &[$(stringify!($key)),+];
        }
    )*};
}

/// Declares a module's families: `NAME: Kind<LabelSet> = "series_name", "help";` (no
/// `<LabelSet>` for a single series; the help is a literal or a macro that expands to one,
/// since it is the constant's doc as well). Yields one typed constant per family, `ALL` (the
/// plain entries, in order) and `Families` (one field per family, named like its constant:
/// the complete set a daemon registers).
macro_rules! catalogue {
    (@labels) => { $crate::NoLabels };
    (@labels $set:ident) => { $set };
    ($( $name:ident: $kind:ident $(<$set:ident>)? = $series:literal, $help:expr; )+) => {
        $(
            #[doc = $help]
            pub const $name: $crate::Catalogued<catalogue!(@labels $($set)?), $crate::kinds::$kind> =
                $crate::Catalogued::new($series, $help);
        )+

        /// Every family of this module, in declaration order.
        pub const ALL: &[$crate::Metric] = &[$($name.metric()),+];

        /// One metric per family of this module, each field named like its constant.
        /// [`Families::register`] registers them all under their catalogue names, so a
        /// registry holds exactly what this module lists.
        #[allow(non_snake_case, non_camel_case_types)]
        pub struct Families<$($name),+>
        where
            $($name: $crate::Series<catalogue!(@labels $($set)?), $crate::kinds::$kind>,)+
        {
            $(pub $name: $name,)+
        }

        #[allow(non_camel_case_types)]
        impl<$($name),+> Families<$($name),+>
        where
            $($name: $crate::Series<catalogue!(@labels $($set)?), $crate::kinds::$kind>,)+
        {
            pub fn register(self, registry: &mut prometheus_client::registry::Registry) {
                $($name.register(registry, self.$name);)+
            }
        }
    };
}
