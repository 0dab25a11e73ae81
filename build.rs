//! Compiles pixpipe's bindings to libavif (src/avif.c) against the system's libavif,
//! found with pkg-config (Debian: `libavif-dev`, which `make deps` installs), and points the
//! binaries at the libaom `make deps-build` fetches when the system's is too old.

fn main() {
    println!("cargo:rerun-if-changed=src/avif.c");
    let lib = pkg_config::Config::new()
        .atleast_version("0.11")
        .probe("libavif")
        .unwrap_or_else(|e| {
            panic!(
                "pixpipe needs libavif (AVIF output) and its header: on Debian or Ubuntu \
                 `apt-get install libavif-dev pkg-config`, or run `make deps`.\n{e}"
            )
        });
    // Rebuilt when libavif's header changes (another libavif version lays its structures out
    // otherwise; src/avif.c also refuses to run with a libavif other than its header's).
    let system = std::path::PathBuf::from("/usr/include");
    for dir in lib.include_paths.iter().chain([&system]) {
        let header = dir.join("avif/avif.h");
        if header.is_file() {
            println!("cargo:rerun-if-changed={}", header.display());
        }
    }
    let mut build = cc::Build::new();
    build.file("src/avif.c").warnings(true);
    for dir in &lib.include_paths {
        build.include(dir);
    }
    for (name, value) in &lib.defines {
        build.define(name, value.as_deref());
    }
    build.compile("pixpipe_avif");

    // libavif loads libaom (its encoder) as the system's libaom.so.3, unless a directory in
    // the binary's search path holds another: `make deps-build` puts a current one in
    // <target>/libaom when the system's is older than pixpipe needs (src/avif.rs, MIN_AOM).
    // The path is written whether or not the directory exists yet (the loader skips a missing
    // one), so fetching it later needs no rebuild. DT_RPATH, not DT_RUNPATH: only the former
    // also serves the libraries the binary loads, and libavif is the one that loads libaom.
    println!("cargo:rerun-if-env-changed=PIXPIPE_LIBAOM_DIR");
    let dir = std::env::var_os("PIXPIPE_LIBAOM_DIR")
        .map(std::path::PathBuf::from)
        .or_else(|| {
            // OUT_DIR is <target>/<profile>/build/<package>-<hash>/out.
            let out = std::path::PathBuf::from(std::env::var_os("OUT_DIR")?);
            Some(out.ancestors().nth(4)?.join("libaom"))
        });
    if let Some(dir) = dir {
        println!("cargo:rustc-link-arg=-Wl,--disable-new-dtags");
        // -Xlinker, not -Wl: a comma in the path stays part of it.
        for arg in ["-Xlinker", "-rpath", "-Xlinker"] {
            println!("cargo:rustc-link-arg={arg}");
        }
        println!("cargo:rustc-link-arg={}", dir.display());
    }
}
