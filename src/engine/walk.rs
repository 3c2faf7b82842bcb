//! A bounded, concurrent walk over a dependency graph: each node runs once all its dependencies
//! succeeded; a failure makes its dependents (transitively) skipped.

use std::collections::HashMap;

use futures::future::BoxFuture;
use futures::stream::{FuturesUnordered, StreamExt};

use crate::plan::Address;

use super::Failure;

#[derive(Debug, Clone)]
pub enum Outcome<T> {
    Done(T),
    Failed(Failure),
    /// Not run because this dependency failed or was skipped.
    Skipped(Address),
}

/// `nodes` must be in dependency order. `run` gets the node and its dependencies' results.
pub async fn walk<'a, T, F>(nodes: &[Address], deps: &HashMap<Address, Vec<Address>>, limit: usize, run: F) -> HashMap<Address, Outcome<T>>
where
    T: Clone + Send + 'a,
    F: Fn(Address, Vec<(Address, T)>) -> BoxFuture<'a, Result<T, Failure>>,
{
    let mut results: HashMap<Address, Outcome<T>> = HashMap::new();
    let mut pending: Vec<&Address> = nodes.iter().collect();
    let mut running = FuturesUnordered::new();
    loop {
        // Start what is ready, in order, up to the limit; skip what can never run.
        let mut i = 0;
        while i < pending.len() {
            let node = pending[i];
            let node_deps = deps.get(node).map(Vec::as_slice).unwrap_or(&[]);
            if let Some(bad) = node_deps.iter().find(|d| matches!(results.get(*d), Some(Outcome::Failed(_) | Outcome::Skipped(_)))) {
                let cause = match &results[bad] {
                    Outcome::Skipped(root) => root.clone(),
                    _ => bad.clone(),
                };
                results.insert(node.clone(), Outcome::Skipped(cause));
                pending.remove(i);
                continue;
            }
            let ready = node_deps.iter().all(|d| matches!(results.get(d), Some(Outcome::Done(_))));
            if ready && running.len() < limit {
                let inputs = node_deps
                    .iter()
                    .filter_map(|d| match &results[d] {
                        Outcome::Done(v) => Some((d.clone(), v.clone())),
                        _ => None,
                    })
                    .collect();
                let fut = run(node.clone(), inputs);
                let name = node.clone();
                running.push(async move { (name, fut.await) });
                pending.remove(i);
                continue;
            }
            i += 1;
        }
        let Some((node, result)) = running.next().await else { break };
        results.insert(
            node,
            match result {
                Ok(v) => Outcome::Done(v),
                Err(f) => Outcome::Failed(f),
            },
        );
    }
    results
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;

    fn graph(edges: &[(&str, &[&str])]) -> (Vec<Address>, HashMap<Address, Vec<Address>>) {
        let nodes = edges.iter().map(|(n, _)| n.to_string()).collect();
        let deps = edges.iter().map(|(n, d)| (n.to_string(), d.iter().map(|s| s.to_string()).collect())).collect();
        (nodes, deps)
    }

    #[tokio::test]
    async fn runs_dependencies_first_and_skips_dependents_of_a_failure() {
        let (nodes, deps) = graph(&[("a", &[]), ("b", &["a"]), ("c", &[]), ("d", &["c"]), ("e", &["d", "b"])]);
        let order = Mutex::new(Vec::new());
        let results = walk(&nodes, &deps, 2, |n, inputs: Vec<(Address, usize)>| {
            order.lock().unwrap().push(n.clone());
            Box::pin(async move {
                if n == "c" {
                    return Err(Failure::new("boom", "none"));
                }
                Ok(inputs.len())
            })
        })
        .await;
        assert!(matches!(results["b"], Outcome::Done(1)));
        assert!(matches!(results["c"], Outcome::Failed(_)));
        assert!(matches!(&results["d"], Outcome::Skipped(c) if c == "c"));
        assert!(matches!(&results["e"], Outcome::Skipped(c) if c == "c"), "the root cause is reported");
        let order = order.lock().unwrap();
        assert!(order.iter().position(|n| n == "a") < order.iter().position(|n| n == "b"));
        assert!(!order.contains(&"d".to_string()));
    }

    #[tokio::test]
    async fn never_exceeds_the_limit() {
        let nodes: Vec<Address> = (0..20).map(|i| i.to_string()).collect();
        let deps = HashMap::new();
        let (now, max) = (AtomicUsize::new(0), AtomicUsize::new(0));
        walk(&nodes, &deps, 3, |_, _: Vec<(Address, ())>| {
            Box::pin(async {
                let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                max.fetch_max(n, Ordering::SeqCst);
                tokio::task::yield_now().await;
                now.fetch_sub(1, Ordering::SeqCst);
                Ok(())
            })
        })
        .await;
        assert_eq!(max.load(Ordering::SeqCst), 3);
    }
}
