//! Tag listing, following the `Link: <…>; rel="next"` pages.

use reqwest::header::LINK;
use rreg_oci::distribution::TagList;

use super::auth::Scope;
use super::Client;

impl Client {
    /// Every tag of `repo`, in the registry's order.
    pub async fn list_tags(&self, repo: &str) -> anyhow::Result<Vec<String>> {
        let mut url = self.url(&format!("v2/{repo}/tags/list"))?;
        url.query_pairs_mut().append_pair("n", "1000");
        let mut out = Vec::new();
        let what = format!("the tags of {repo}");
        loop {
            let u = url.clone();
            let resp = self.send(&[Scope::pull(repo)], &what, |h| Ok(h.get(u.clone()))).await?;
            if !resp.status().is_success() {
                return Err(self.fail(resp, &format!("repository {}/{repo}", self.registry)).await);
            }
            let next = resp
                .headers()
                .get(LINK)
                .and_then(|v| v.to_str().ok())
                .and_then(next_link)
                .map(str::to_owned);
            let page: TagList = resp.json().await.map_err(|e| super::RegistryError::Protocol {
                host: self.registry.clone(),
                what: what.clone(),
                reason: e.to_string(),
            })?;
            let page_tags = page.tags;
            let empty = page_tags.is_empty();
            out.extend(page_tags);
            match next {
                Some(n) if !empty => url = self.resolve(&n)?,
                _ => return Ok(out),
            }
        }
    }
}

/// The target of a `rel="next"` link.
fn next_link(header: &str) -> Option<&str> {
    header.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        if params.contains("rel=\"next\"") || params.contains("rel=next") {
            Some(target.trim().trim_start_matches('<').trim_end_matches('>'))
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn links() {
        assert_eq!(
            super::next_link(r#"</v2/a/tags/list?n=2&last=b>; rel="next""#),
            Some("/v2/a/tags/list?n=2&last=b")
        );
        assert_eq!(super::next_link(r#"</x>; rel="prev""#), None);
    }
}
