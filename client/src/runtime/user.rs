//! `USER`/`--chown` resolution against a root filesystem's `/etc/passwd` and `/etc/group`, as
//! Docker does: names or numbers, `user[:group]`, the user's primary group when no group is given,
//! supplementary groups from `/etc/group`, and the home directory for `HOME`.

use std::path::Path;

use anyhow::bail;

/// A resolved user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ids {
    /// User ID.
    pub uid: u32,
    /// Primary group ID.
    pub gid: u32,
    /// Supplementary groups.
    pub groups: Vec<u32>,
    /// Home directory (`/` when unknown).
    pub home: String,
}

fn read(root: &Path, file: &str) -> String {
    std::fs::read_to_string(root.join(file)).unwrap_or_default()
}

/// Resolves `spec` (`user`, `user:group`, numbers or names; empty = root) in `root`.
pub fn resolve(spec: &str, root: &Path) -> anyhow::Result<Ids> {
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let user = if user.is_empty() { "0" } else { user };
    let passwd = read(root, "etc/passwd");
    let groups_file = read(root, "etc/group");
    let entry = passwd.lines().map(|l| l.split(':').collect::<Vec<_>>()).find(|f| {
        f.len() >= 4
            && (f[0] == user
                || user
                    .parse::<u32>()
                    .ok()
                    .is_some_and(|n| f[2].parse::<u32>().ok() == Some(n)))
    });
    let (uid, mut gid, home, name) = match (&entry, user.parse::<u32>()) {
        (Some(f), _) => (
            f[2].parse::<u32>().unwrap_or(0),
            f[3].parse::<u32>().unwrap_or(0),
            f.get(5).map_or("/".to_owned(), |h| (*h).to_owned()),
            Some(f[0].to_owned()),
        ),
        (None, Ok(n)) => (n, 0, "/".to_owned(), None),
        (None, Err(_)) => bail!("unable to find user {user}: no matching entries in passwd file"),
    };
    if let Some(g) = group {
        gid = match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => groups_file
                .lines()
                .map(|l| l.split(':').collect::<Vec<_>>())
                .find(|f| f.len() >= 3 && f[0] == g)
                .and_then(|f| f[2].parse().ok())
                .ok_or_else(|| anyhow::anyhow!("unable to find group {g}: no matching entries in group file"))?,
        };
    }
    let mut groups = vec![gid];
    if group.is_none() {
        if let Some(name) = &name {
            for f in groups_file.lines().map(|l| l.split(':').collect::<Vec<_>>()) {
                if f.len() >= 4 && f[3].split(',').any(|m| m == name) {
                    if let Ok(g) = f[2].parse::<u32>() {
                        if !groups.contains(&g) {
                            groups.push(g);
                        }
                    }
                }
            }
        }
    }
    Ok(Ids { uid, gid, groups, home })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_numbers_and_groups() {
        let root = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(root.path().join("etc")).expect("mkdir");
        std::fs::write(
            root.path().join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n",
        )
        .expect("write");
        std::fs::write(
            root.path().join("etc/group"),
            "root:x:0:\napp:x:1000:\nwheel:x:10:app\n",
        )
        .expect("write");
        let r = |s: &str| resolve(s, root.path());
        assert_eq!(r("").expect("root").uid, 0);
        let app = r("app").expect("app");
        assert_eq!((app.uid, app.gid, app.home.as_str()), (1000, 1000, "/home/app"));
        assert_eq!(app.groups, vec![1000, 10]);
        assert_eq!(r("app:wheel").expect("app").gid, 10);
        assert_eq!(
            r("1234:5").expect("numeric"),
            Ids {
                uid: 1234,
                gid: 5,
                groups: vec![5],
                home: "/".into()
            }
        );
        assert!(r("nobody")
            .expect_err("unknown")
            .to_string()
            .contains("no matching entries in passwd"));
        assert!(r("app:nogroup").is_err());
    }
}
