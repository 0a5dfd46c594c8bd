//! `rreg diff`'s work: two images, each local (the store) or remote, compared with
//! `rreg_oci::compare` — or, when both live on the same rreg-server, asked of its `…/-/compare` API
//! (which reads no layer twice and sends no layer at all). Both paths give the same
//! [`Comparison`].

use anyhow::Context as _;
use rreg_oci::compare::{self, Comparison, ImageInput, LayerInput};
use rreg_oci::layers::LayerFiles;
use rreg_oci::{ImageConfig, ImageRef, Platform};

use super::{api_get, read_layer, remote_layer};
use crate::registry::Client;
use crate::store::{Image, Store};

/// An image to compare: held locally, or on a registry.
pub enum Source {
    /// In the local store.
    Local(Box<Image>),
    /// On its registry.
    Remote(ImageRef, Box<Client>),
}

/// One side, loaded.
struct Loaded {
    label: String,
    digest: String,
    config: ImageConfig,
    config_digest: String,
    layers: Vec<(String, u64, LayerFiles)>,
}

/// Compares `a` (labelled `la`) with `b` (`lb`) for `platform`.
pub async fn compare_images(
    store: &Store,
    (la, a): (&str, &Source),
    (lb, b): (&str, &Source),
    platform: Option<&Platform>,
) -> anyhow::Result<Comparison> {
    if let (Source::Remote(ra, ca), Source::Remote(rb, _)) = (a, b) {
        if ra.registry == rb.registry {
            if let Some(c) = ask_server(ca, (la, ra), (lb, rb), platform).await {
                return c;
            }
        }
    }
    let x = load(store, la, a, platform).await?;
    let y = load(store, lb, b, platform).await?;
    Ok(compare::compare(&input(&x, platform), &input(&y, platform)))
}

/// Asks rreg-server, following the pages of file changes. `None` if the registry is not one.
async fn ask_server(
    client: &Client,
    (la, a): (&str, &ImageRef),
    (lb, b): (&str, &ImageRef),
    platform: Option<&Platform>,
) -> Option<anyhow::Result<Comparison>> {
    let q = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let to = if a.repository == b.repository {
        b.reference().to_string()
    } else {
        match b.digest.as_ref() {
            Some(d) => format!("{}@{d}", b.repository),
            None => format!("{}:{}", b.repository, b.reference()),
        }
    };
    let mut path = format!(
        "repositories/{}/-/compare?from={}&to={}&n=1000",
        a.repository,
        q(&a.reference().to_string()),
        q(&to)
    );
    path.push_str(&format!(
        "&platform={}",
        platform.cloned().unwrap_or_else(Platform::host)
    ));
    let mut whole: Option<Comparison> = None;
    let mut last: Option<String> = None;
    loop {
        let page_path = match &last {
            Some(l) => format!("{path}&last={}", q(l)),
            None => path.clone(),
        };
        let v = match api_get(client, &page_path).await? {
            Ok(v) => v,
            Err(e) => return Some(Err(e.context(format!("comparing {la} with {lb}")))),
        };
        let page: Comparison = match serde_json::from_value(v) {
            Ok(p) => p,
            Err(e) => return Some(Err(anyhow::anyhow!("the registry's comparison is not readable: {e}"))),
        };
        let next = page.next.clone();
        match whole.as_mut() {
            None => whole = Some(page),
            Some(w) => w.files.extend(page.files),
        }
        match next {
            Some(n) => last = Some(n),
            None => break,
        }
    }
    let mut c = whole?;
    c.next = None;
    c.from.reference = la.to_owned();
    c.to.reference = lb.to_owned();
    Some(Ok(c))
}

async fn load(store: &Store, label: &str, s: &Source, platform: Option<&Platform>) -> anyhow::Result<Loaded> {
    let (img, remote) = match s {
        Source::Local(img) => ((**img).clone(), None),
        Source::Remote(r, client) => (
            crate::registry::remote::remote_image(client, r, platform).await?,
            Some((r, client)),
        ),
    };
    let mut layers = Vec::new();
    for l in &img.manifest.layers {
        let files = match remote {
            None => {
                let f = std::fs::File::open(store.blob_path(&l.digest))
                    .with_context(|| format!("layer {} is missing from the local store", l.digest))?;
                read_layer(std::io::BufReader::with_capacity(128 << 10, f), &l.media_type)?
            }
            Some((r, client)) => remote_layer(client, r.repository.as_str(), l).await?,
        };
        layers.push((l.digest.to_string(), l.size.max(0) as u64, files));
    }
    Ok(Loaded {
        label: label.to_owned(),
        digest: img.descriptor.digest.to_string(),
        config_digest: img
            .manifest
            .config
            .as_ref()
            .map(|c| c.digest.to_string())
            .unwrap_or_default(),
        config: img.config,
        layers,
    })
}

fn input<'a>(l: &'a Loaded, platform: Option<&Platform>) -> ImageInput<'a> {
    let from_config = l.config.platform().map(|p| p.to_string());
    ImageInput {
        reference: l.label.clone(),
        digest: l.digest.clone(),
        platform: from_config.or_else(|| platform.map(ToString::to_string)),
        config: &l.config,
        config_digest: l.config_digest.clone(),
        layers: l
            .layers
            .iter()
            .map(|(digest, size, files)| LayerInput {
                digest: digest.clone(),
                size: *size,
                files,
            })
            .collect(),
    }
}
