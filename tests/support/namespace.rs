//! A command in a mount namespace of its own (root only: CI is root), to
//! show it a sandbox: without `/proc` ([`hide_proc`]), or with a name
//! server that never answers ([`Resolver`]): `/etc/resolv.conf` names a UDP socket on
//! 127.0.0.1:53 that reads and never answers, `/etc/nsswitch.conf` says
//! `hosts: files dns`, and `/etc/hosts` is this module's (so whether the
//! platform's name resolves is the test's choice, whatever the machine's
//! own files say).

use std::ffi::CString;
use std::net::UdpSocket;
use std::os::fd::FromRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The platform's name in these tests: in no `/etc/hosts` but ours.
pub const PLATFORM_NAME: &str = "platform.molecule-outage.test";

/// The silent name server, shared by every test of this run and by other
/// test runs on the machine (`SO_REUSEPORT`: the kernel hands a query to
/// one of the sockets, and none of them answers). Never closed.
fn silent_socket() -> &'static UdpSocket {
    static SOCKET: OnceLock<UdpSocket> = OnceLock::new();
    SOCKET.get_or_init(|| {
        // SAFETY: plain socket calls on a descriptor this function owns;
        // every result is checked.
        unsafe {
            let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
            assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
            let one: libc::c_int = 1;
            for option in [libc::SO_REUSEADDR, libc::SO_REUSEPORT] {
                let set = libc::setsockopt(
                    fd,
                    libc::SOL_SOCKET,
                    option,
                    (&one as *const libc::c_int).cast(),
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                );
                assert_eq!(set, 0, "setsockopt: {}", std::io::Error::last_os_error());
            }
            let addr = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: 53u16.to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from(std::net::Ipv4Addr::LOCALHOST).to_be(),
                },
                sin_zero: [0; 8],
            };
            let bound = libc::bind(
                fd,
                (&addr as *const libc::sockaddr_in).cast(),
                std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            );
            assert_eq!(
                bound,
                0,
                "cannot bind a silent name server on 127.0.0.1:53 (the tests run as root): {}",
                std::io::Error::last_os_error()
            );
            UdpSocket::from_raw_fd(fd)
        }
    })
}

/// The files a command sees in place of the machine's resolver files.
pub struct Resolver {
    dir: PathBuf,
}

impl Resolver {
    /// In `dir`: a `resolv.conf` naming the silent server, a
    /// `nsswitch.conf`, and a `hosts` in which [`PLATFORM_NAME`] does not
    /// resolve (see [`Resolver::answer`]).
    pub fn silent(dir: &Path) -> Resolver {
        silent_socket();
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(
            dir.join("resolv.conf"),
            "nameserver 127.0.0.1\noptions timeout:5 attempts:2\n",
        )
        .unwrap();
        std::fs::write(dir.join("nsswitch.conf"), "hosts: files dns\n").unwrap();
        let resolver = Resolver {
            dir: dir.to_path_buf(),
        };
        resolver.write_hosts(false);
        resolver
    }

    fn write_hosts(&self, platform: bool) {
        let mut hosts = String::from("127.0.0.1\tlocalhost\n::1\tlocalhost\n");
        if platform {
            hosts.push_str(&format!("127.0.0.1\t{PLATFORM_NAME}\n"));
        }
        // Replaced whole (rename): a command starting now reads one or
        // the other, never half of one.
        let tmp = self.dir.join("hosts.tmp");
        std::fs::write(&tmp, hosts).unwrap();
        std::fs::rename(&tmp, self.dir.join("hosts")).unwrap();
    }

    /// From now on [`PLATFORM_NAME`] resolves (from the hosts file, as
    /// when the name server comes back), for commands started after this.
    pub fn answer(&self) {
        self.write_hosts(true);
    }

    /// Run `command` in a mount namespace of its own with these files
    /// mounted over `/etc/resolv.conf`, `/etc/nsswitch.conf` and
    /// `/etc/hosts`.
    pub fn apply(&self, command: &mut Command) {
        let path = |name: &str| CString::new(self.dir.join(name).to_str().unwrap()).unwrap();
        let mounts = [
            (path("resolv.conf"), c"/etc/resolv.conf"),
            (path("nsswitch.conf"), c"/etc/nsswitch.conf"),
            (path("hosts"), c"/etc/hosts"),
        ];
        // SAFETY: between fork and exec only system calls are made, on
        // strings made before the fork.
        unsafe {
            command.pre_exec(move || {
                private_mounts()?;
                for (source, target) in &mounts {
                    check(libc::mount(
                        source.as_ptr(),
                        target.as_ptr(),
                        std::ptr::null(),
                        libc::MS_BIND,
                        std::ptr::null(),
                    ))?;
                }
                Ok(())
            });
        }
    }
}

/// Run `command` in a mount namespace of its own where `/proc` is an empty
/// directory (a sandbox without it): no `/proc/self/exe`, no `/proc/self/fd`.
pub fn hide_proc(command: &mut Command) {
    // SAFETY: between fork and exec only system calls are made, on static
    // strings.
    unsafe {
        command.pre_exec(|| {
            private_mounts()?;
            check(libc::mount(
                c"none".as_ptr(),
                c"/proc".as_ptr(),
                c"tmpfs".as_ptr(),
                0,
                std::ptr::null(),
            ))
        });
    }
}

/// A system call's result as `io::Result`.
fn check(result: libc::c_int) -> std::io::Result<()> {
    if result == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// In a forked child before exec: a mount namespace of its own, whose
/// mounts do not propagate back to the machine's.
fn private_mounts() -> std::io::Result<()> {
    // SAFETY: plain system calls on static strings; no allocation.
    unsafe {
        check(libc::unshare(libc::CLONE_NEWNS))?;
        check(libc::mount(
            std::ptr::null(),
            c"/".as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        ))
    }
}
