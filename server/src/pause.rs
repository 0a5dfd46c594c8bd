//! Pause points: named places in the protocol between pushes and the garbage collector where a
//! test can stop one side while it holds its locks, and so force an interleaving deterministically
//! (e.g. a manifest PUT stopped just before its commit while the collector tries to remove a link).
//! Each `Db` carries its own set, so tests sharing a process never see each other's points. Inert
//! unless a test arms one: a pass costs one atomic load.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Semaphore;

/// The pause points of one database handle (cloned with it).
#[derive(Clone, Default)]
pub struct Pauses(Arc<Inner>);

#[derive(Default)]
struct Inner {
    armed: AtomicUsize,
    points: Mutex<HashMap<&'static str, Arc<Point>>>,
}

struct Point {
    reached: Semaphore,
    release: Semaphore,
}

impl Default for Point {
    fn default() -> Self {
        Point {
            reached: Semaphore::new(0),
            release: Semaphore::new(0),
        }
    }
}

impl Pauses {
    /// Passes point `name`: if a test armed it, the first pass waits there until the test releases
    /// it (or drops its handle).
    pub(crate) async fn pass(&self, name: &'static str) {
        if self.0.armed.load(Ordering::Acquire) == 0 {
            return;
        }
        let point = match self.0.points.lock() {
            Ok(mut points) => points.remove(name),
            Err(_) => None,
        };
        if let Some(p) = point {
            self.0.armed.fetch_sub(1, Ordering::AcqRel);
            p.reached.add_permits(1);
            if let Ok(permit) = p.release.acquire().await {
                permit.forget();
            }
        }
    }

    /// Arms point `name`: the next pass through it stops until [`Pause::release`].
    pub fn arm(&self, name: &'static str) -> Pause {
        let point = Arc::new(Point::default());
        if let Ok(mut points) = self.0.points.lock() {
            if points.insert(name, point.clone()).is_none() {
                self.0.armed.fetch_add(1, Ordering::AcqRel);
            }
        }
        Pause { point }
    }
}

/// A test's handle on an armed pause point. Dropping it lets a stopped pass go on.
pub struct Pause {
    point: Arc<Point>,
}

impl Pause {
    /// Waits until a pass has stopped at the point.
    pub async fn reached(&self) {
        if let Ok(permit) = self.point.reached.acquire().await {
            permit.forget();
        }
    }

    /// Lets the stopped pass go on.
    pub fn release(&self) {
        self.point.release.close();
    }
}

impl Drop for Pause {
    fn drop(&mut self) {
        self.point.release.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_armed_point_stops_the_first_pass_only() {
        let pauses = Pauses::default();
        pauses.pass("x").await; // not armed: goes through
        let p = pauses.arm("x");
        let task = {
            let pauses = pauses.clone();
            tokio::spawn(async move {
                pauses.pass("x").await;
                pauses.pass("x").await; // disarmed after the first stop
            })
        };
        p.reached().await;
        assert!(!task.is_finished());
        p.release();
        task.await.expect("task");
    }
}
