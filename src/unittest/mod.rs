//! Running helm-unittest suites natively (`chartproof unittest`): suite loading, the path
//! dialect, the assertions, a mocked `lookup` (kubernetesProvider), snapshots, rendering with the real `helm template`, post-renderers,
//! the runner and the output formats (human, JSON, helm-unittest's JUnit layout, GitHub, SARIF).

pub mod assert;
pub mod lookup;
pub mod output;
pub mod path;
pub mod postrender;
pub mod render;
pub mod runner;
pub mod snapshot;
pub mod suite;
