// Shim for std::ios_base_library_init() (mangled: _ZSt21ios_base_library_initv).
//
// GCC 13's <iostream> makes every translation unit that includes it reference this
// symbol at version GLIBCXX_3.4.32, only to guarantee that the program runs against a
// libstdc++ that initialises the standard streams itself. The function does nothing a
// caller relies on. GCC 12's libstdc++ (Debian 12) lacks the symbol but still
// initialises std::cout and friends on its own, so a no-op definition is a faithful
// stand-in.
//
// build/TorchSharp.Debian12.targets compiles this file into libmama_iosinit.so next to
// a patched libLibTorchSharp.so, whose unversioned reference then binds here. See
// docs/libtorch-on-debian12.md.

namespace std
{
    __attribute__((visibility("default"))) void ios_base_library_init() {}
}
