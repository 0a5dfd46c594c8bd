//! The two processes of a job. Stage 1 enters the new namespaces and starts stage 2, which is PID 1
//! there: it mounts the overlay (and the read-only roots of COPY --from sources), then copies, or
//! builds the container's `/proc`, `/dev` and `/etc` mounts, pivots into the root, switches to the
//! image's user and runs the command, reaping every child until the command exits.

use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{bail, Context as _};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::CloneFlags;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;

use super::{exit_code, user, Action, Network, Process, Spec, STAGE2};

/// Enters new namespaces and runs stage 2 in them.
pub fn stage1(spec: &Spec, spec_path: &Path) -> anyhow::Result<i32> {
    let mut flags =
        CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWUTS | CloneFlags::CLONE_NEWIPC | CloneFlags::CLONE_NEWPID;
    if spec.network == Network::None {
        flags |= CloneFlags::CLONE_NEWNET;
    }
    nix::sched::unshare(flags).context("creating namespaces (running containers needs root)")?;
    if spec.network == Network::None {
        // As Docker's `--network none`: no interfaces but a working loopback.
        loopback_up().context("bringing up the loopback interface of the new network namespace")?;
    }
    let exe = std::env::current_exe().context("finding the rreg executable")?;
    let status = Command::new(exe)
        .arg(STAGE2)
        .arg(spec_path)
        .status()
        .context("starting the container's init")?;
    Ok(exit_code(status))
}

/// Sets `lo` (interface 1 in a new network namespace) up with one rtnetlink `RTM_NEWLINK` request,
/// as `ip link set lo up` does, and checks the kernel's acknowledgement.
fn loopback_up() -> anyhow::Result<()> {
    use nix::sys::socket::{
        recv, sendto, socket, AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol, SockType,
    };
    use std::os::fd::AsRawFd as _;
    const RTM_NEWLINK: u16 = 16;
    const NLM_F_REQUEST: u16 = 1;
    const NLM_F_ACK: u16 = 4;
    const NLMSG_ERROR: u16 = 2;
    const IFF_UP: u32 = 1;
    let fd = socket(
        AddressFamily::Netlink,
        SockType::Raw,
        SockFlag::SOCK_CLOEXEC,
        SockProtocol::NetlinkRoute,
    )?;
    let mut msg = Vec::with_capacity(32);
    msg.extend_from_slice(&32u32.to_ne_bytes()); // nlmsg_len
    msg.extend_from_slice(&RTM_NEWLINK.to_ne_bytes());
    msg.extend_from_slice(&(NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
    msg.extend_from_slice(&1u32.to_ne_bytes()); // seq
    msg.extend_from_slice(&0u32.to_ne_bytes()); // pid: the kernel
    msg.extend_from_slice(&[0, 0]); // ifi_family AF_UNSPEC, padding
    msg.extend_from_slice(&0u16.to_ne_bytes()); // ifi_type
    msg.extend_from_slice(&1i32.to_ne_bytes()); // ifi_index: lo
    msg.extend_from_slice(&IFF_UP.to_ne_bytes()); // ifi_flags
    msg.extend_from_slice(&IFF_UP.to_ne_bytes()); // ifi_change
    sendto(fd.as_raw_fd(), &msg, &NetlinkAddr::new(0, 0), MsgFlags::empty())?;
    let mut buf = [0u8; 1024];
    let n = recv(fd.as_raw_fd(), &mut buf, MsgFlags::empty())?;
    if n >= 20 && u16::from_ne_bytes([buf[4], buf[5]]) == NLMSG_ERROR {
        let code = i32::from_ne_bytes([buf[16], buf[17], buf[18], buf[19]]);
        if code != 0 {
            return Err(std::io::Error::from_raw_os_error(-code).into());
        }
        return Ok(());
    }
    bail!("unexpected rtnetlink answer ({n} bytes)")
}

fn overlay(lowers: &[String], upper: Option<(&Path, &Path)>, target: &Path) -> anyhow::Result<()> {
    if lowers.is_empty() {
        bail!("an overlay needs at least one lower directory");
    }
    let mut data = format!("lowerdir={}", lowers.join(":"));
    let mut flags = MsFlags::empty();
    match upper {
        Some((u, w)) => data.push_str(&format!(",upperdir={},workdir={}", u.display(), w.display())),
        None => flags |= MsFlags::MS_RDONLY,
    }
    if data.len() > 4000 {
        bail!(
            "too many layers ({}) for one overlay mount; squash some steps together",
            lowers.len()
        );
    }
    mount(Some("overlay"), target, Some("overlay"), flags, Some(data.as_str()))
        .with_context(|| format!("mounting an overlay on {}", target.display()))
}

/// PID 1 of the job.
pub fn stage2(spec: &Spec) -> anyhow::Result<i32> {
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .context("making mounts private")?;
    std::env::set_current_dir(&spec.layers_dir).with_context(|| format!("entering {}", spec.layers_dir.display()))?;
    overlay(&spec.lowers, Some((&spec.upper, &spec.work)), &spec.merged)?;
    for s in &spec.sources {
        overlay(&s.lowers, None, &s.target)?;
    }
    match &spec.action {
        Action::Copy(plan) => {
            crate::build::copy::apply(plan, &spec.merged)?;
            Ok(0)
        }
        Action::Run(p) => run(spec, p),
    }
}

fn bind(src: &Path, target: &Path) -> anyhow::Result<()> {
    if !target.exists() {
        std::fs::write(target, b"").with_context(|| format!("creating {}", target.display()))?;
    }
    mount(Some(src), target, None::<&str>, MsFlags::MS_BIND, None::<&str>)
        .with_context(|| format!("binding {} on {}", src.display(), target.display()))
}

fn setup_dev(root: &Path) -> anyhow::Result<()> {
    let dev = root.join("dev");
    std::fs::create_dir_all(&dev)?;
    mount(
        Some("tmpfs"),
        &dev,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME,
        Some("mode=755,size=65536k"),
    )
    .context("mounting /dev")?;
    for d in ["null", "zero", "full", "random", "urandom", "tty"] {
        let host = Path::new("/dev").join(d);
        if host.exists() {
            // /dev/tty fails without a controlling terminal; the rest must work.
            if let Err(e) = bind(&host, &dev.join(d)) {
                if d != "tty" {
                    return Err(e);
                }
            }
        }
    }
    for (l, t) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
        ("ptmx", "pts/ptmx"),
    ] {
        std::os::unix::fs::symlink(t, dev.join(l))?;
    }
    std::fs::create_dir_all(dev.join("shm"))?;
    std::fs::create_dir_all(dev.join("pts"))?;
    let _ = mount(
        Some("shm"),
        &dev.join("shm"),
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        Some("mode=1777,size=65536k"),
    );
    let _ = mount(
        Some("devpts"),
        &dev.join("pts"),
        Some("devpts"),
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        Some("newinstance,ptmxmode=0666,mode=0620"),
    );
    Ok(())
}

fn run(spec: &Spec, p: &Process) -> anyhow::Result<i32> {
    let root = &spec.merged;
    for d in ["proc", "sys", "dev", "etc"] {
        let path = root.join(d);
        if !path.is_dir() {
            bail!("/{d} is missing from the container root");
        }
    }
    mount(
        Some("proc"),
        &root.join("proc"),
        Some("proc"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        None::<&str>,
    )
    .context("mounting /proc")?;
    setup_dev(root)?;
    let _ = mount(
        Some("sysfs"),
        &root.join("sys"),
        Some("sysfs"),
        MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        None::<&str>,
    );
    if let Some(h) = &spec.hosts {
        bind(h, &root.join("etc/hosts"))?;
    }
    if let Some(r) = &spec.resolv {
        bind(r, &root.join("etc/resolv.conf"))?;
    }
    std::env::set_current_dir(root)?;
    nix::unistd::pivot_root(".", ".").context("pivot_root into the container")?;
    umount2(".", MntFlags::MNT_DETACH).context("detaching the old root")?;
    std::env::set_current_dir("/")?;
    nix::unistd::sethostname(&p.hostname).context("setting the host name")?;

    let ids = user::resolve(&p.user, Path::new("/"))?;
    let cwd = if p.cwd.is_empty() { "/" } else { p.cwd.as_str() };
    if !Path::new(cwd).is_dir() {
        std::fs::create_dir_all(cwd).with_context(|| format!("creating working directory {cwd}"))?;
    }
    let groups: Vec<nix::unistd::Gid> = ids.groups.iter().map(|g| nix::unistd::Gid::from_raw(*g)).collect();
    nix::unistd::setgroups(&groups).context("setgroups")?;
    nix::unistd::setgid(nix::unistd::Gid::from_raw(ids.gid)).context("setgid")?;
    nix::unistd::setuid(nix::unistd::Uid::from_raw(ids.uid)).context("setuid")?;
    std::env::set_current_dir(cwd).with_context(|| format!("entering working directory {cwd}"))?;

    let mut env: Vec<(String, String)> = p
        .env
        .iter()
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) => (k.to_owned(), v.to_owned()),
            None => (kv.clone(), String::new()),
        })
        .collect();
    if !env.iter().any(|(k, _)| k == "PATH") {
        env.push((
            "PATH".into(),
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
        ));
    }
    if !env.iter().any(|(k, _)| k == "HOSTNAME") {
        env.push(("HOSTNAME".into(), p.hostname.clone()));
    }
    if !env.iter().any(|(k, _)| k == "HOME") {
        env.push(("HOME".into(), ids.home.clone()));
    }
    let Some(program) = p.argv.first() else {
        bail!("no command specified");
    };
    let child = Command::new(program)
        .args(&p.argv[1..])
        .env_clear()
        .envs(env)
        .stdin(if p.stdin { Stdio::inherit() } else { Stdio::null() })
        .spawn();
    let child = match child {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("rreg: exec: {program:?}: executable file not found in $PATH");
            return Ok(127);
        }
        Err(e) => {
            eprintln!("rreg: exec: {program:?}: {e}");
            return Ok(126);
        }
    };
    let main = Pid::from_raw(i32::try_from(child.id()).unwrap_or(i32::MAX));
    // Reap every process (orphans re-parent to us) until the command itself ends.
    loop {
        match waitpid(Pid::from_raw(-1), None) {
            Ok(WaitStatus::Exited(pid, code)) if pid == main => return Ok(code),
            Ok(WaitStatus::Signaled(pid, sig, _)) if pid == main => return Ok(128 + sig as i32),
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(e).context("waiting for the command"),
        }
    }
}
