//! Proof that a deploy worked: the app answers at the address users will use.

use std::time::{Duration, Instant};

/// GET `url` until it answers `expect` or `deadline` passes. Returns the last outcome on failure.
/// `say` hears each new answer, and the last one again when it lasts (every [`super::wait::QUIET`]).
pub async fn verify(url: &str, expect: u16, deadline: Duration, say: &(dyn Fn(&str) + Sync)) -> Result<(), String> {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().map_err(|e| e.to_string())?;
    let start = Instant::now();
    let mut pause = Duration::from_millis(200);
    let (mut previous, mut said) = (String::new(), Instant::now());
    loop {
        let last = match client.get(url).send().await {
            Ok(r) if r.status().as_u16() == expect => return Ok(()),
            Ok(r) => format!("answered {}", r.status()),
            Err(e) if e.is_timeout() => "timed out".to_string(),
            Err(e) if e.is_connect() => "refused the connection".to_string(),
            Err(e) => e.to_string(),
        };
        if start.elapsed() >= deadline {
            return Err(format!("GET {url} {last} (expected {expect}) for {}s", deadline.as_secs()));
        }
        if last != previous || said.elapsed() >= super::wait::QUIET {
            say(&format!("GET {url} {last}, expecting {expect} ({}s)", start.elapsed().as_secs()));
            (previous, said) = (last, Instant::now());
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(3));
    }
}

/// One GET: the status, or why there was none.
pub async fn probe(url: &str) -> Result<u16, String> {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().map_err(|e| e.to_string())?;
    match client.get(url).send().await {
        Ok(r) => Ok(r.status().as_u16()),
        Err(e) if e.is_timeout() => Err("timed out".into()),
        Err(e) if e.is_connect() => Err("connection refused or unreachable".into()),
        Err(e) => Err(e.to_string()),
    }
}

/// Where AWS's "what is my address" service answers: `ECSDEPLOY_CHECKIP_URL` overrides it (the
/// local AWS world serves one), as `AWS_ENDPOINT_URL` does for the AWS APIs.
pub const CHECKIP: &str = "https://checkip.amazonaws.com/";

/// This machine's public IPv4 address as the internet sees it, or `None` when it cannot be
/// learnt (no network, a proxy): verification then simply tries.
pub async fn public_address() -> Option<std::net::Ipv4Addr> {
    let url = std::env::var("ECSDEPLOY_CHECKIP_URL").ok().filter(|u| !u.is_empty()).unwrap_or_else(|| CHECKIP.into());
    let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().ok()?;
    let body = client.get(url).send().await.ok()?.error_for_status().ok()?.text().await.ok()?;
    body.trim().parse().ok()
}
