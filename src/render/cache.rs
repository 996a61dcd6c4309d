//! A render cache keyed by what determines helm's output: chart content, helm version, the
//! request's flags and the bytes of every values file. The same merged values are never rendered
//! twice in one run; concurrent requests for one key wait for the first render instead of racing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use anyhow::Result;
use sha2::{Digest, Sha256};

use super::{Helm, RenderFailure, RenderRequest, Rendered, render};

type Slot = Arc<OnceLock<Result<Rendered, RenderFailure>>>;

/// Thread-safe, in-memory render cache for one chart.
pub struct RenderCache {
    chart_hash: String,
    slots: Mutex<HashMap<String, Slot>>,
    hits: std::sync::atomic::AtomicUsize,
    renders: std::sync::atomic::AtomicUsize,
}

impl RenderCache {
    pub fn new(chart_hash: String) -> Self {
        RenderCache { chart_hash, slots: Mutex::new(HashMap::new()), hits: Default::default(), renders: Default::default() }
    }

    /// The cache key of a request.
    pub fn key(&self, helm: &Helm, req: &RenderRequest) -> Result<String> {
        let mut h = Sha256::new();
        h.update(self.chart_hash.as_bytes());
        h.update(helm.version.as_bytes());
        for a in req.args().iter().skip(3) {
            h.update(a.as_bytes());
            h.update([0]);
        }
        h.update(req.release_name.as_bytes());
        for f in &req.values_files {
            h.update(std::fs::read(f)?);
            h.update([1]);
        }
        Ok(hex::encode(h.finalize()))
    }

    /// Render through the cache. Concurrent requests for one key wait for the first render.
    /// Every request that does not start helm counts as a hit, so the counts depend only on the
    /// requests made, not on thread timing. A failure to run helm at all goes to the caller that
    /// started it; later requests for the key see it as a helm failure.
    pub fn render(&self, helm: &Helm, req: &RenderRequest) -> Result<Result<Rendered, RenderFailure>> {
        let key = self.key(helm, req)?;
        let slot = self.slots.lock().unwrap().entry(key).or_default().clone();
        let mut started = false;
        let mut run_error = None;
        let value = slot.get_or_init(|| {
            started = true;
            self.renders.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            match render(helm, req) {
                Ok(r) => r,
                Err(e) => {
                    let msg = format!("{e:#}");
                    run_error = Some(e);
                    Err(RenderFailure::Helm(super::HelmError::parse(&msg)))
                }
            }
        });
        if !started {
            self.hits.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        if let Some(e) = run_error {
            return Err(e);
        }
        Ok(value.clone())
    }

    /// helm processes actually started.
    pub fn renders(&self) -> usize {
        self.renders.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Requests answered from the cache.
    pub fn hits(&self) -> usize {
        self.hits.load(std::sync::atomic::Ordering::Relaxed)
    }
}
