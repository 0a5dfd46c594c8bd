//! The images the benchmarks push: layers, an OCI image config with Docker-style history, and the
//! OCI image manifest, with their digests; and a one-file tar writer for layers that must be real
//! tar archives.

use bytes::Bytes;
use serde_json::json;

use crate::client::{digest_of, MT_CONFIG, MT_LAYER, MT_MANIFEST};

/// A blob and its digest.
#[derive(Debug, Clone)]
pub struct Blob {
    pub digest: String,
    pub data: Bytes,
}

impl Blob {
    pub fn new(data: Vec<u8>) -> Blob {
        Blob {
            digest: digest_of(&data),
            data: Bytes::from(data),
        }
    }
}

/// One entry of the config's history.
#[derive(Debug, Clone)]
pub struct Step {
    pub created_by: String,
    /// An instruction that made no layer (`ENV`, `CMD`, …).
    pub empty: bool,
}

/// An image ready to push.
#[derive(Debug, Clone)]
pub struct Image {
    pub layers: Vec<Blob>,
    pub config: Blob,
    pub manifest: Bytes,
    pub digest: String,
}

impl Image {
    /// The image of `layers` (uncompressed tar media type, diff IDs = digests) with `steps` as its
    /// history; `steps` must have one non-empty step per layer.
    pub fn new(layers: Vec<Blob>, steps: &[Step]) -> Image {
        let created = "2026-11-27T00:00:00Z";
        let history: Vec<serde_json::Value> = steps
            .iter()
            .map(|s| {
                if s.empty {
                    json!({ "created": created, "created_by": s.created_by, "empty_layer": true })
                } else {
                    json!({ "created": created, "created_by": s.created_by })
                }
            })
            .collect();
        let config = json!({
            "architecture": "amd64",
            "os": "linux",
            "created": created,
            "config": { "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"] },
            "rootfs": { "type": "layers", "diff_ids": layers.iter().map(|l| l.digest.clone()).collect::<Vec<_>>() },
            "history": history,
        });
        let config = Blob::new(config.to_string().into_bytes());
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": MT_MANIFEST,
            "config": { "mediaType": MT_CONFIG, "digest": config.digest, "size": config.data.len() },
            "layers": layers.iter().map(|l| json!({ "mediaType": MT_LAYER, "digest": l.digest, "size": l.data.len() }))
                .collect::<Vec<_>>(),
        });
        let manifest = Bytes::from(manifest.to_string().into_bytes());
        Image {
            digest: digest_of(&manifest),
            layers,
            config,
            manifest,
        }
    }

    /// Bytes of the layers and the config.
    pub fn blob_bytes(&self) -> u64 {
        self.layers.iter().map(|l| l.data.len() as u64).sum::<u64>() + self.config.data.len() as u64
    }
}

/// The (digest, size) of every blob an image manifest references: config first, then layers.
pub fn manifest_blobs(manifest: &[u8]) -> Result<Vec<(String, u64)>, String> {
    let v: serde_json::Value = serde_json::from_slice(manifest).map_err(|e| format!("manifest: {e}"))?;
    let one = |d: &serde_json::Value| -> Result<(String, u64), String> {
        Ok((
            d["digest"]
                .as_str()
                .ok_or("manifest: a descriptor without digest")?
                .to_owned(),
            d["size"].as_u64().ok_or("manifest: a descriptor without size")?,
        ))
    };
    let mut out = vec![one(&v["config"])?];
    for l in v["layers"].as_array().ok_or("manifest: no layers")? {
        out.push(one(l)?);
    }
    Ok(out)
}

/// A tar archive holding one regular file `name` (ustar, mode 0644, owner 0, mtime 0).
pub fn tar_one_file(name: &str, content: &[u8]) -> Vec<u8> {
    let mut h = [0u8; 512];
    let put = |h: &mut [u8; 512], at: usize, v: &[u8]| h[at..at + v.len()].copy_from_slice(v);
    put(&mut h, 0, &name.as_bytes()[..name.len().min(100)]);
    put(&mut h, 100, b"0000644\0");
    put(&mut h, 108, b"0000000\0");
    put(&mut h, 116, b"0000000\0");
    put(&mut h, 124, format!("{:011o}\0", content.len()).as_bytes());
    put(&mut h, 136, b"00000000000\0");
    put(&mut h, 148, b"        ");
    h[156] = b'0';
    put(&mut h, 257, b"ustar\x0000");
    let sum: u32 = h.iter().map(|b| u32::from(*b)).sum();
    put(&mut h, 148, format!("{sum:06o}\0 ").as_bytes());
    let mut out = Vec::with_capacity(512 + content.len().div_ceil(512) * 512 + 1024);
    out.extend_from_slice(&h);
    out.extend_from_slice(content);
    out.resize(out.len().div_ceil(512) * 512, 0);
    out.resize(out.len() + 1024, 0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_and_tar() {
        let t = tar_one_file("a/b.bin", &[7u8; 700]);
        assert_eq!(t.len(), 512 + 1024 + 1024);
        let img = Image::new(
            vec![Blob::new(t)],
            &[
                Step {
                    created_by: "RUN x".into(),
                    empty: false,
                },
                Step {
                    created_by: "CMD y".into(),
                    empty: true,
                },
            ],
        );
        let blobs = manifest_blobs(&img.manifest).expect("parses");
        assert_eq!(blobs[0].0, img.config.digest);
        assert_eq!(blobs[1], (img.layers[0].digest.clone(), 2560));
        assert_eq!(img.digest, digest_of(&img.manifest));
    }
}
