//! Puts `memory.x` where the linker finds it and links with cortex-m-rt's and defmt's scripts:
//! the build script every seat board shares, in `../build-common.rs`.

include!("../build-common.rs");
