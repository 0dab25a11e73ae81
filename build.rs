//! Compiles pixpipe's bindings to libavif (src/avif.c) against the system's libavif,
//! found with pkg-config (Debian: `libavif-dev`, which `make deps` installs).

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
}
