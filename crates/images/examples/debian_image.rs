//! Builds (or finds in the cache) the Debian 12 root tarball the end-to-end tests deploy, and
//! prints its path, size and SHA-256:
//!
//!     cargo run -p ingot-images --example debian_image -- [CACHE_DIR]
//!
//! CACHE_DIR defaults to `$INGOT_DEBIAN_IMAGE_CACHE` (scripts/peers/debian-image.sh prints it).
//! Needs mmdebstrap and root, like the tests.

fn main() {
    let cache = std::env::args_os()
        .nth(1)
        .or_else(|| std::env::var_os("INGOT_DEBIAN_IMAGE_CACHE"))
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| "target/debian-image-cache".into());
    match ingot_images::debian::debian_image(&cache) {
        Ok(img) => println!(
            "{} {} bytes sha256 {} ({})",
            img.path.display(),
            img.size,
            img.sha256,
            match img.built_in {
                Some(d) => format!("built in {d:?}"),
                None => "from the cache".into(),
            }
        ),
        Err(e) => {
            eprintln!("debian_image: {e}");
            std::process::exit(1);
        }
    }
}
