// SPDX-License-Identifier: Apache-2.0
//! README.md's example is examples/quickstart.rs: the doc tests compile
//! README.md's code, tests/integ/client_rust.sh runs the example against
//! walld, and this test checks that the two are one program.

use std::fs;
use std::path::Path;

#[test]
fn readme_example_is_examples_quickstart() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = fs::read_to_string(dir.join("README.md")).unwrap();
    let start = readme
        .find("```rust,no_run\n")
        .expect("README.md has a ```rust,no_run block")
        + "```rust,no_run\n".len();
    let len = readme[start..].find("```\n").expect("the block ends");
    let block = &readme[start..start + len];

    let example = fs::read_to_string(dir.join("examples/quickstart.rs")).unwrap();
    let code: String = example
        .lines()
        .filter(|l| !l.starts_with("//!"))
        .map(|l| format!("{}\n", l))
        .collect();
    assert_eq!(
        block, code,
        "README.md's example and examples/quickstart.rs differ"
    );
}
