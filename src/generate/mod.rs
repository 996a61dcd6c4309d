//! Property-based testing of a chart: value sets generated from the contract (`strategies`,
//! ordered by `plan`), expressed as overrides of the defaults (`overrides`), rendered and checked
//! in parallel (`runner`), failures reduced to minimal overrides (`shrink`) and saved as
//! replayable regression cases (`cases`). The contract decides which sets are allowed; the rules
//! engine judges each render.

pub mod overrides;
pub mod plan;
pub mod strategies;
pub mod cases;
pub mod identity;
pub mod shrink;
pub mod runner;
pub mod branches;
