// elf_weaken_glibcxx: makes TorchSharp's libLibTorchSharp.so loadable on systems whose
// libstdc++ predates GCC 13 (Debian 12 ships GCC 12: GLIBCXX_3.4.30 at most).
//
// libLibTorchSharp.so needs version GLIBCXX_3.4.32 for exactly one symbol,
// _ZSt21ios_base_library_initv (std::ios_base_library_init(), referenced by GCC 13's
// <iostream>). The `patch` command edits a copy of the library in place:
//
//   1. .gnu.version_r: sets VER_FLG_WEAK on the GLIBCXX_3.4.32 Vernaux entry, so the
//      dynamic loader no longer refuses a libstdc++ without that version;
//   2. .gnu.version: sets the symbol's entry to VER_NDX_GLOBAL (unversioned), so any
//      definition satisfies it;
//   3. .dynamic/.dynstr: adds DT_NEEDED <shim> (a library defining a no-op
//      std::ios_base_library_init()) in the first spare DT_NULL slot. .dynstr has no
//      slack, so the shim's name is written into the bytes of the existing
//      DT_RUNPATH string, which is shortened to "$ORIGIN" (its other entries are
//      paths of TorchSharp's own build machine). The shim is found next to the
//      library through that "$ORIGIN".
//
// The file keeps its size and its modification time (so MSBuild's incremental copy
// treats it as unchanged), and it is replaced by rename(), never written through, so a
// hard link or symbolic link into the NuGet cache is never modified. Running `patch` on
// an already patched file changes nothing.
//
// `check-system` prints "present" or "missing": whether the libstdc++.so.6 this
// process loads defines _ZSt21ios_base_library_initv at GLIBCXX_3.4.32.
//
// Only 64-bit little-endian ELF shared objects are supported. See
// docs/libtorch-on-debian12.md and build/TorchSharp.Debian12.targets.

#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace
{
constexpr std::string_view kVersion = "GLIBCXX_3.4.32";
constexpr std::string_view kSymbol = "_ZSt21ios_base_library_initv";
constexpr const char* kLibStdCxx = "libstdc++.so.6";
constexpr std::string_view kOrigin = "$ORIGIN";

// Exit codes.
constexpr int kExitOk = 0;          // success, or nothing to do
constexpr int kExitUsage = 1;       // bad command line
constexpr int kExitIo = 2;          // file could not be read or written
constexpr int kExitBadElf = 3;      // not a well-formed 64-bit little-endian ELF shared object
constexpr int kExitUnsafe = 4;      // layout differs from what the patch can handle safely
constexpr int kExitSystem = 5;      // libstdc++.so.6 could not be loaded (check-system)

struct Failure
{
    int code;
    std::string message;
};

[[noreturn]] void Fail(int code, std::string message)
{
    throw Failure{code, std::move(message)};
}

std::string Hex(uint64_t value)
{
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "0x%llx", static_cast<unsigned long long>(value));
    return buffer;
}

bool HostIsLittleEndian()
{
    const uint16_t probe = 1;
    unsigned char first;
    std::memcpy(&first, &probe, 1);
    return first == 1;
}

using Bytes = std::vector<unsigned char>;

// A section's location in the file; all reads and writes are checked against it.
struct Section
{
    size_t index = 0;
    Elf64_Shdr header{};
    std::string name;

    uint64_t Offset() const { return header.sh_offset; }
    uint64_t Size() const { return header.sh_size; }
};

struct StringRef
{
    uint64_t offset;     // into .dynstr
    std::string owner;   // for error messages
    bool isSearchPath;   // DT_RUNPATH or DT_RPATH
};

class Image
{
public:
    Image(std::string path, Bytes bytes) : path_(std::move(path)), bytes_(std::move(bytes)) {}

    const std::string& Path() const { return path_; }
    const Bytes& Data() const { return bytes_; }

    template <class T>
    T Load(uint64_t offset, const std::string& what) const
    {
        if (offset > bytes_.size() || bytes_.size() - offset < sizeof(T))
            Fail(kExitBadElf, what + " at file offset " + Hex(offset) + " lies outside the file");
        T value;
        std::memcpy(&value, bytes_.data() + offset, sizeof value);
        return value;
    }

    template <class T>
    T LoadIn(const Section& section, uint64_t relative, const std::string& what) const
    {
        if (relative > section.Size() || section.Size() - relative < sizeof(T))
            Fail(kExitBadElf, what + " at offset " + Hex(relative) + " lies outside section " + section.name);
        return Load<T>(section.Offset() + relative, what);
    }

    template <class T>
    void StoreIn(const Section& section, uint64_t relative, const T& value)
    {
        // Every store follows a LoadIn of the same location, so bounds are already checked.
        std::memcpy(bytes_.data() + section.Offset() + relative, &value, sizeof value);
    }

    unsigned char* At(const Section& section, uint64_t relative) { return bytes_.data() + section.Offset() + relative; }

private:
    std::string path_;
    Bytes bytes_;
};

Bytes ReadFile(const std::string& path, struct stat& info)
{
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        Fail(kExitIo, "cannot open " + path + ": " + std::strerror(errno));
    if (::fstat(fd, &info) != 0)
    {
        const int error = errno;
        ::close(fd);
        Fail(kExitIo, "cannot stat " + path + ": " + std::strerror(error));
    }
    if (!S_ISREG(info.st_mode))
    {
        ::close(fd);
        Fail(kExitIo, path + " is not a regular file");
    }
    Bytes bytes(static_cast<size_t>(info.st_size));
    size_t done = 0;
    while (done < bytes.size())
    {
        const ssize_t n = ::read(fd, bytes.data() + done, bytes.size() - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
        {
            const int error = n < 0 ? errno : EIO;
            ::close(fd);
            Fail(kExitIo, "cannot read " + path + ": " + std::strerror(error));
        }
        done += static_cast<size_t>(n);
    }
    ::close(fd);
    return bytes;
}

// Writes bytes to a temporary file next to path, gives it path's mode and timestamps,
// and renames it over path.
void ReplaceFile(const std::string& path, const Bytes& bytes, const struct stat& original)
{
    const std::string temporary = path + ".elf_weaken_glibcxx." + std::to_string(::getpid());
    const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        Fail(kExitIo, "cannot create " + temporary + ": " + std::strerror(errno));

    auto abandon = [&](const std::string& what) {
        const int error = errno;
        ::close(fd);
        ::unlink(temporary.c_str());
        Fail(kExitIo, what + " " + temporary + ": " + std::strerror(error));
    };

    size_t done = 0;
    while (done < bytes.size())
    {
        const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            abandon("cannot write");
        done += static_cast<size_t>(n);
    }
    if (::fchmod(fd, original.st_mode & 07777) != 0)
        abandon("cannot set the mode of");
    const struct timespec times[2] = {original.st_atim, original.st_mtim};
    if (::futimens(fd, times) != 0)
        abandon("cannot set the timestamps of");
    if (::fsync(fd) != 0)
        abandon("cannot flush");
    if (::close(fd) != 0)
    {
        const int error = errno;
        ::unlink(temporary.c_str());
        Fail(kExitIo, "cannot close " + temporary + ": " + std::strerror(error));
    }
    if (::rename(temporary.c_str(), path.c_str()) != 0)
    {
        const int error = errno;
        ::unlink(temporary.c_str());
        Fail(kExitIo, "cannot rename " + temporary + " to " + path + ": " + std::strerror(error));
    }
}

class Patcher
{
public:
    Patcher(Image& image, std::string shimName) : image_(image), shimName_(std::move(shimName)) {}

    // Returns true when the image was changed.
    bool Run()
    {
        ReadHeaders();
        FindSections();
        ReadDynamic();
        CrossCheck();
        ReadVersionNeeds();
        ReadVersionDefinitions();
        ReadSymbols();
        ReadDynamicStrings();

        if (!hasVernaux_)
        {
            Log("does not require " + std::string(kVersion) + "; nothing to do");
            return false;
        }

        const bool needWeak = (vernaux_.vna_flags & VER_FLG_WEAK) == 0;
        const bool needUnversion = symbolVersion_ != VER_NDX_GLOBAL;
        const bool needNeeded = !HasNeeded(shimName_);
        if (!needWeak && !needUnversion && !needNeeded)
        {
            Log("already patched");
            return false;
        }

        // Validate everything before the first write.
        uint64_t runpathOffset = 0;
        uint64_t runpathLength = 0;
        size_t nullSlot = 0;
        if (needNeeded)
            PlanNeeded(runpathOffset, runpathLength, nullSlot);

        if (needWeak)
        {
            vernaux_.vna_flags = static_cast<Elf64_Half>(vernaux_.vna_flags | VER_FLG_WEAK);
            image_.StoreIn(verneed_, vernauxOffset_, vernaux_);
        }
        if (needUnversion)
        {
            const Elf64_Half global = VER_NDX_GLOBAL;
            image_.StoreIn(versym_, symbolIndex_ * sizeof(Elf64_Half), global);
        }
        if (needNeeded)
        {
            // "$ORIGIN/:..." becomes "$ORIGIN\0<shim>\0\0...".
            unsigned char* text = image_.At(dynstr_, runpathOffset);
            text[kOrigin.size()] = 0;
            std::memcpy(text + kOrigin.size() + 1, shimName_.data(), shimName_.size());
            std::memset(text + kOrigin.size() + 1 + shimName_.size(), 0,
                        runpathLength - kOrigin.size() - 1 - shimName_.size());

            Elf64_Dyn needed{};
            needed.d_tag = DT_NEEDED;
            needed.d_un.d_val = runpathOffset + kOrigin.size() + 1;
            Elf64_Dyn terminator{};
            terminator.d_tag = DT_NULL;
            image_.StoreIn(dynamic_, nullSlot * sizeof(Elf64_Dyn), needed);
            image_.StoreIn(dynamic_, (nullSlot + 1) * sizeof(Elf64_Dyn), terminator);
        }

        std::string done;
        auto add = [&](bool condition, const std::string& what) {
            if (condition)
                done += (done.empty() ? "" : ", ") + what;
        };
        add(needWeak, std::string(kVersion) + " marked weak");
        add(needUnversion, std::string(kSymbol) + " unversioned");
        add(needNeeded, "DT_NEEDED " + shimName_ + " added, DT_RUNPATH set to " + std::string(kOrigin));
        Log("patched: " + done);
        return true;
    }

private:
    void Log(const std::string& message) const
    {
        std::printf("elf_weaken_glibcxx: %s: %s\n", image_.Path().c_str(), message.c_str());
    }

    void ReadHeaders()
    {
        const Bytes& data = image_.Data();
        if (data.size() < EI_NIDENT || std::memcmp(data.data(), ELFMAG, SELFMAG) != 0)
            Fail(kExitBadElf, "not an ELF file (bad magic)");
        if (data[EI_CLASS] != ELFCLASS64)
            Fail(kExitBadElf, "not a 64-bit ELF file (EI_CLASS " + std::to_string(data[EI_CLASS]) + ")");
        if (data[EI_DATA] != ELFDATA2LSB)
            Fail(kExitBadElf, "not a little-endian ELF file (EI_DATA " + std::to_string(data[EI_DATA]) + ")");
        if (data[EI_VERSION] != EV_CURRENT)
            Fail(kExitBadElf, "unknown ELF version " + std::to_string(data[EI_VERSION]));

        ehdr_ = image_.Load<Elf64_Ehdr>(0, "ELF header");
        if (ehdr_.e_type != ET_DYN)
            Fail(kExitBadElf, "not a shared object (e_type " + std::to_string(ehdr_.e_type) + ")");
        if (ehdr_.e_shnum == 0 || ehdr_.e_shoff == 0)
            Fail(kExitBadElf, "no section headers (stripped or extended numbering); cannot locate sections");
        if (ehdr_.e_shentsize != sizeof(Elf64_Shdr))
            Fail(kExitBadElf, "unexpected section header size " + std::to_string(ehdr_.e_shentsize));
        if (ehdr_.e_phnum != 0 && ehdr_.e_phentsize != sizeof(Elf64_Phdr))
            Fail(kExitBadElf, "unexpected program header size " + std::to_string(ehdr_.e_phentsize));
        if (ehdr_.e_shstrndx == SHN_UNDEF || ehdr_.e_shstrndx >= ehdr_.e_shnum)
            Fail(kExitBadElf, "invalid section name table index " + std::to_string(ehdr_.e_shstrndx));

        for (size_t i = 0; i < ehdr_.e_phnum; ++i)
            phdrs_.push_back(image_.Load<Elf64_Phdr>(ehdr_.e_phoff + i * sizeof(Elf64_Phdr),
                                                     "program header " + std::to_string(i)));

        for (size_t i = 0; i < ehdr_.e_shnum; ++i)
        {
            Section section;
            section.index = i;
            section.header = image_.Load<Elf64_Shdr>(ehdr_.e_shoff + i * sizeof(Elf64_Shdr),
                                                     "section header " + std::to_string(i));
            section.name = "[" + std::to_string(i) + "]";
            const Elf64_Shdr& h = section.header;
            if (h.sh_type != SHT_NOBITS && h.sh_type != SHT_NULL &&
                (h.sh_offset > image_.Data().size() || image_.Data().size() - h.sh_offset < h.sh_size))
                Fail(kExitBadElf, "section " + section.name + " extends past the end of the file");
            sections_.push_back(section);
        }

        // Section names, for readable messages only.
        const Section& names = sections_[ehdr_.e_shstrndx];
        if (names.header.sh_type == SHT_STRTAB)
        {
            for (Section& section : sections_)
            {
                const uint64_t at = section.header.sh_name;
                if (at >= names.Size())
                    continue;
                const char* begin = reinterpret_cast<const char*>(image_.Data().data() + names.Offset() + at);
                const size_t length = strnlen(begin, names.Size() - at);
                if (length < names.Size() - at && length > 0)
                    section.name = std::string(begin, length);
            }
        }
    }

    const Section* FindUnique(Elf64_Word type, const char* description, bool required) const
    {
        const Section* found = nullptr;
        for (const Section& section : sections_)
        {
            if (section.header.sh_type != type)
                continue;
            if (found != nullptr)
                Fail(kExitUnsafe, std::string("more than one ") + description + " section");
            found = &section;
        }
        if (found == nullptr && required)
            Fail(kExitBadElf, std::string("no ") + description + " section");
        return found;
    }

    void FindSections()
    {
        dynamic_ = *FindUnique(SHT_DYNAMIC, "SHT_DYNAMIC", true);
        dynsym_ = *FindUnique(SHT_DYNSYM, "SHT_DYNSYM", true);
        const Section* versym = FindUnique(SHT_GNU_versym, "SHT_GNU_versym (.gnu.version)", false);
        const Section* verneed = FindUnique(SHT_GNU_verneed, "SHT_GNU_verneed (.gnu.version_r)", false);
        const Section* verdef = FindUnique(SHT_GNU_verdef, "SHT_GNU_verdef (.gnu.version_d)", false);
        hasVersions_ = versym != nullptr && verneed != nullptr;
        if (hasVersions_)
        {
            versym_ = *versym;
            verneed_ = *verneed;
        }
        hasVerdef_ = verdef != nullptr;
        if (hasVerdef_)
            verdef_ = *verdef;

        if (dynsym_.header.sh_link >= sections_.size())
            Fail(kExitBadElf, ".dynsym links to a missing string table");
        dynstr_ = sections_[dynsym_.header.sh_link];
        if (dynstr_.header.sh_type != SHT_STRTAB)
            Fail(kExitBadElf, ".dynsym links to section " + dynstr_.name + ", which is not a string table");
        if (dynstr_.Size() == 0 || image_.Data()[dynstr_.Offset() + dynstr_.Size() - 1] != 0)
            Fail(kExitBadElf, dynstr_.name + " is empty or not NUL-terminated");

        auto expectLink = [&](const Section& section) {
            if (section.header.sh_link != dynstr_.index)
                Fail(kExitUnsafe, section.name + " does not use the same string table as .dynsym");
        };
        expectLink(dynamic_);
        if (hasVersions_)
        {
            expectLink(verneed_);
            if (versym_.header.sh_link != dynsym_.index)
                Fail(kExitBadElf, versym_.name + " does not belong to .dynsym");
        }
        if (hasVerdef_)
            expectLink(verdef_);

        // Any other user of .dynstr might point into bytes this tool rewrites.
        for (const Section& section : sections_)
        {
            if (section.header.sh_link != dynstr_.index)
                continue;
            const Elf64_Word type = section.header.sh_type;
            if (type != SHT_DYNSYM && type != SHT_DYNAMIC && type != SHT_GNU_verneed && type != SHT_GNU_verdef)
                Fail(kExitUnsafe, "section " + section.name + " (type " + Hex(type) + ") refers to " + dynstr_.name +
                                      "; refusing to rewrite strings it may use");
        }

        if (dynsym_.header.sh_entsize != sizeof(Elf64_Sym) || dynsym_.Size() % sizeof(Elf64_Sym) != 0)
            Fail(kExitBadElf, ".dynsym has an unexpected entry size");
        if (dynamic_.Size() % sizeof(Elf64_Dyn) != 0)
            Fail(kExitBadElf, ".dynamic size is not a multiple of the entry size");
        if (hasVersions_ && versym_.Size() != (dynsym_.Size() / sizeof(Elf64_Sym)) * sizeof(Elf64_Half))
            Fail(kExitBadElf, ".gnu.version does not have one entry per .dynsym symbol");
    }

    std::string_view String(uint64_t offset, const std::string& what) const
    {
        if (offset >= dynstr_.Size())
            Fail(kExitBadElf, what + " points outside " + dynstr_.name + " (" + Hex(offset) + ")");
        const char* begin = reinterpret_cast<const char*>(image_.Data().data() + dynstr_.Offset() + offset);
        // .dynstr ends in NUL (checked in FindSections), so strnlen stops inside it.
        return std::string_view(begin, strnlen(begin, dynstr_.Size() - offset));
    }

    void ReadDynamic()
    {
        // The loader reads the PT_DYNAMIC segment; it must be the .dynamic section.
        uint64_t slotBytes = dynamic_.Size();
        bool found = false;
        for (const Elf64_Phdr& phdr : phdrs_)
        {
            if (phdr.p_type != PT_DYNAMIC)
                continue;
            if (phdr.p_offset != dynamic_.Offset() || phdr.p_vaddr != dynamic_.header.sh_addr)
                Fail(kExitUnsafe, "PT_DYNAMIC does not coincide with the .dynamic section");
            slotBytes = std::min<uint64_t>(slotBytes, phdr.p_filesz);
            found = true;
        }
        if (!found)
            Fail(kExitBadElf, "no PT_DYNAMIC program header");
        slots_ = slotBytes / sizeof(Elf64_Dyn);

        bool terminated = false;
        for (size_t i = 0; i < slots_; ++i)
        {
            const Elf64_Dyn entry = image_.LoadIn<Elf64_Dyn>(dynamic_, i * sizeof(Elf64_Dyn), "dynamic entry");
            if (entry.d_tag == DT_NULL)
            {
                firstNull_ = i;
                terminated = true;
                break;
            }
            dyn_.push_back(entry);
        }
        if (!terminated)
            Fail(kExitBadElf, ".dynamic has no DT_NULL terminator");
    }

    uint64_t DynValue(Elf64_Sxword tag, bool& present) const
    {
        present = false;
        uint64_t value = 0;
        for (const Elf64_Dyn& entry : dyn_)
        {
            if (entry.d_tag != tag)
                continue;
            if (present)
                Fail(kExitUnsafe, "dynamic tag " + Hex(static_cast<uint64_t>(tag)) + " appears more than once");
            present = true;
            value = entry.d_un.d_val;
        }
        return value;
    }

    // The section headers (which this tool uses) must describe what the loader uses.
    void CrossCheck() const
    {
        auto expect = [&](Elf64_Sxword tag, const char* tagName, uint64_t expected, bool required) {
            bool present = false;
            const uint64_t value = DynValue(tag, present);
            if (!present && !required)
                return;
            if (!present || value != expected)
                Fail(kExitUnsafe, std::string(tagName) + " does not match the section headers (expected " +
                                      Hex(expected) + ")");
        };
        expect(DT_STRTAB, "DT_STRTAB", dynstr_.header.sh_addr, true);
        expect(DT_STRSZ, "DT_STRSZ", dynstr_.Size(), true);
        expect(DT_SYMTAB, "DT_SYMTAB", dynsym_.header.sh_addr, true);
        if (hasVersions_)
        {
            expect(DT_VERSYM, "DT_VERSYM", versym_.header.sh_addr, true);
            expect(DT_VERNEED, "DT_VERNEED", verneed_.header.sh_addr, true);
        }
        if (hasVerdef_)
            expect(DT_VERDEF, "DT_VERDEF", verdef_.header.sh_addr, true);

        // The bytes this tool edits in the file must be the bytes the loader maps.
        auto expectMapped = [&](const Section& section) {
            for (const Elf64_Phdr& phdr : phdrs_)
            {
                if (phdr.p_type != PT_LOAD || section.Offset() < phdr.p_offset ||
                    section.Offset() + section.Size() > phdr.p_offset + phdr.p_filesz)
                    continue;
                if (phdr.p_vaddr + (section.Offset() - phdr.p_offset) != section.header.sh_addr)
                    Fail(kExitUnsafe, "section " + section.name + " address does not match its file offset");
                return;
            }
            Fail(kExitUnsafe, "section " + section.name + " is not inside a loadable segment");
        };
        expectMapped(dynstr_);
        expectMapped(dynamic_);
        if (hasVersions_)
        {
            expectMapped(versym_);
            expectMapped(verneed_);
        }
    }

    void ReadVersionNeeds()
    {
        if (!hasVersions_)
            return;
        const uint64_t maxEntries = verneed_.header.sh_info != 0 ? verneed_.header.sh_info : UINT16_MAX;
        uint64_t offset = 0;
        for (uint64_t n = 0;; ++n)
        {
            if (n >= maxEntries)
                Fail(kExitBadElf, ".gnu.version_r has more entries than its sh_info says");
            const Elf64_Verneed need = image_.LoadIn<Elf64_Verneed>(verneed_, offset, "Verneed entry");
            if (need.vn_version != VER_NEED_CURRENT)
                Fail(kExitBadElf, "unknown Verneed version " + std::to_string(need.vn_version));
            const std::string file(String(need.vn_file, "Verneed vn_file"));
            refs_.push_back({need.vn_file, "verneed file " + file, false});

            uint64_t auxOffset = offset + need.vn_aux;
            for (size_t i = 0; i < need.vn_cnt; ++i)
            {
                const Elf64_Vernaux aux = image_.LoadIn<Elf64_Vernaux>(verneed_, auxOffset, "Vernaux entry");
                const std::string_view name = String(aux.vna_name, "Vernaux vna_name");
                refs_.push_back({aux.vna_name, "version " + std::string(name) + " of " + file, false});
                if (name == kVersion)
                {
                    if (hasVernaux_)
                        Fail(kExitUnsafe, std::string(kVersion) + " is required from more than one library");
                    if (file != kLibStdCxx)
                        Fail(kExitUnsafe, std::string(kVersion) + " is required from " + file + ", not " + kLibStdCxx);
                    hasVernaux_ = true;
                    vernaux_ = aux;
                    vernauxOffset_ = auxOffset;
                }
                if (aux.vna_next == 0 && i + 1 < need.vn_cnt)
                    Fail(kExitBadElf, "Vernaux chain of " + file + " ends early");
                auxOffset += aux.vna_next;
            }
            if (need.vn_next == 0)
                break;
            offset += need.vn_next;
        }
    }

    void ReadVersionDefinitions()
    {
        if (!hasVerdef_)
            return;
        const uint64_t maxEntries = verdef_.header.sh_info != 0 ? verdef_.header.sh_info : UINT16_MAX;
        uint64_t offset = 0;
        for (uint64_t n = 0;; ++n)
        {
            if (n >= maxEntries)
                Fail(kExitBadElf, ".gnu.version_d has more entries than its sh_info says");
            const Elf64_Verdef def = image_.LoadIn<Elf64_Verdef>(verdef_, offset, "Verdef entry");
            uint64_t auxOffset = offset + def.vd_aux;
            for (size_t i = 0; i < def.vd_cnt; ++i)
            {
                const Elf64_Verdaux aux = image_.LoadIn<Elf64_Verdaux>(verdef_, auxOffset, "Verdaux entry");
                refs_.push_back({aux.vda_name, "version definition " + std::string(String(aux.vda_name, "vda_name")),
                                 false});
                if (aux.vda_next == 0)
                    break;
                auxOffset += aux.vda_next;
            }
            if (def.vd_next == 0)
                break;
            offset += def.vd_next;
        }
    }

    void ReadSymbols()
    {
        const size_t count = dynsym_.Size() / sizeof(Elf64_Sym);
        bool found = false;
        std::vector<std::string> othersAtVersion;
        for (size_t i = 0; i < count; ++i)
        {
            const Elf64_Sym symbol = image_.LoadIn<Elf64_Sym>(dynsym_, i * sizeof(Elf64_Sym), "symbol");
            if (i == 0)
                continue; // the reserved null symbol
            const std::string_view name = String(symbol.st_name, "symbol " + std::to_string(i) + " st_name");
            refs_.push_back({symbol.st_name, "symbol " + std::string(name), false});
            if (!hasVersions_)
                continue;
            const Elf64_Half version = static_cast<Elf64_Half>(
                image_.LoadIn<Elf64_Half>(versym_, i * sizeof(Elf64_Half), "versym entry") & 0x7fff);
            if (name == kSymbol)
            {
                if (found)
                    Fail(kExitUnsafe, std::string(kSymbol) + " appears more than once in .dynsym");
                if (symbol.st_shndx != SHN_UNDEF)
                    Fail(kExitUnsafe, std::string(kSymbol) + " is defined here, not imported");
                found = true;
                symbolIndex_ = i;
                symbolVersion_ = version;
            }
            else if (hasVernaux_ && version == vernaux_.vna_other)
            {
                othersAtVersion.push_back(std::string(name));
            }
        }

        if (!hasVernaux_)
            return;
        if (!othersAtVersion.empty())
        {
            std::string list;
            for (size_t i = 0; i < othersAtVersion.size() && i < 5; ++i)
                list += (i == 0 ? "" : ", ") + othersAtVersion[i];
            Fail(kExitUnsafe, std::to_string(othersAtVersion.size()) + " other symbol(s) also need " +
                                  std::string(kVersion) + " (" + list +
                                  "); weakening the version would leave them unresolved");
        }
        if (!found)
            Fail(kExitUnsafe, std::string(kVersion) + " is required, but not by " + std::string(kSymbol) +
                                  "; this tool only knows how to replace that symbol");
        if (symbolVersion_ != vernaux_.vna_other && symbolVersion_ != VER_NDX_GLOBAL)
            Fail(kExitUnsafe, std::string(kSymbol) + " has version index " + std::to_string(symbolVersion_) +
                                  ", expected " + std::to_string(vernaux_.vna_other) + " (" + std::string(kVersion) +
                                  ") or 1 (already unversioned)");
    }

    void ReadDynamicStrings()
    {
        // Dynamic entries whose value is a .dynstr offset.
        for (const Elf64_Dyn& entry : dyn_)
        {
            const char* tag = nullptr;
            bool searchPath = false;
            switch (entry.d_tag)
            {
            case DT_NEEDED: tag = "DT_NEEDED"; break;
            case DT_SONAME: tag = "DT_SONAME"; break;
            case DT_RPATH: tag = "DT_RPATH"; searchPath = true; break;
            case DT_RUNPATH: tag = "DT_RUNPATH"; searchPath = true; break;
            case DT_AUXILIARY: tag = "DT_AUXILIARY"; break;
            case DT_FILTER: tag = "DT_FILTER"; break;
            case DT_CONFIG: tag = "DT_CONFIG"; break;
            case DT_DEPAUDIT: tag = "DT_DEPAUDIT"; break;
            case DT_AUDIT: tag = "DT_AUDIT"; break;
            default: break;
            }
            if (tag == nullptr)
                continue;
            String(entry.d_un.d_val, tag);
            refs_.push_back({entry.d_un.d_val, tag, searchPath});
        }
    }

    bool HasNeeded(const std::string& name) const
    {
        for (const Elf64_Dyn& entry : dyn_)
            if (entry.d_tag == DT_NEEDED && String(entry.d_un.d_val, "DT_NEEDED") == name)
                return true;
        return false;
    }

    void PlanNeeded(uint64_t& runpathOffset, uint64_t& runpathLength, size_t& nullSlot) const
    {
        if (firstNull_ + 1 >= slots_)
            Fail(kExitUnsafe, ".dynamic has no spare DT_NULL slot for a new DT_NEEDED entry (" +
                                  std::to_string(slots_) + " slots, " + std::to_string(firstNull_ + 1) + " used)");
        nullSlot = firstNull_;

        bool present = false;
        Elf64_Sxword tag = DT_RUNPATH;
        runpathOffset = DynValue(DT_RUNPATH, present);
        if (!present)
        {
            tag = DT_RPATH;
            runpathOffset = DynValue(DT_RPATH, present);
        }
        if (!present)
            Fail(kExitUnsafe, "no DT_RUNPATH or DT_RPATH string to make room for the shim's name in " + dynstr_.name);
        const char* tagName = tag == DT_RUNPATH ? "DT_RUNPATH" : "DT_RPATH";

        const std::string_view path = String(runpathOffset, tagName);
        runpathLength = path.size();
        const std::string_view first = path.substr(0, path.find(':'));
        if (first != kOrigin && first != std::string(kOrigin) + "/")
            Fail(kExitUnsafe, std::string(tagName) + " \"" + std::string(path) + "\" does not start with " +
                                  std::string(kOrigin) + "; refusing to change where libraries are searched");
        const uint64_t needed = kOrigin.size() + 1 + shimName_.size();
        if (runpathLength < needed)
            Fail(kExitUnsafe, std::string(tagName) + " string is " + std::to_string(runpathLength) + " bytes; " +
                                  std::to_string(needed) + " are needed to hold \"" + std::string(kOrigin) +
                                  "\" and \"" + shimName_ + "\"");

        // Bytes [begin, end) of .dynstr are overwritten; no other string may overlap them.
        const uint64_t begin = runpathOffset + kOrigin.size();
        const uint64_t end = runpathOffset + runpathLength;
        for (const StringRef& ref : refs_)
        {
            if (ref.isSearchPath && ref.offset == runpathOffset)
                continue;
            const uint64_t last = ref.offset + String(ref.offset, ref.owner).size(); // its NUL
            if (ref.offset < end && last >= begin)
                Fail(kExitUnsafe, ref.owner + " (at " + dynstr_.name + "+" + Hex(ref.offset) +
                                      ") shares bytes with the " + tagName +
                                      " string that would be rewritten; cannot patch safely");
        }
    }

    Image& image_;
    std::string shimName_;
    Elf64_Ehdr ehdr_{};
    std::vector<Elf64_Phdr> phdrs_;
    std::vector<Section> sections_;
    Section dynamic_, dynsym_, dynstr_, versym_, verneed_, verdef_;
    bool hasVersions_ = false;
    bool hasVerdef_ = false;
    std::vector<Elf64_Dyn> dyn_;
    size_t slots_ = 0;
    size_t firstNull_ = 0;
    std::vector<StringRef> refs_;
    bool hasVernaux_ = false;
    Elf64_Vernaux vernaux_{};
    uint64_t vernauxOffset_ = 0;
    size_t symbolIndex_ = 0;
    Elf64_Half symbolVersion_ = 0;
};

int CheckSystem()
{
    dlerror();
    void* handle = dlopen(kLibStdCxx, RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr)
    {
        const char* error = dlerror();
        Fail(kExitSystem, std::string("cannot load ") + kLibStdCxx + ": " + (error != nullptr ? error : "unknown error"));
    }
    const void* symbol = dlvsym(handle, std::string(kSymbol).c_str(), std::string(kVersion).c_str());
    std::printf("%s\n", symbol != nullptr ? "present" : "missing");
    dlclose(handle);
    return kExitOk;
}

int Patch(const std::string& path, const std::string& shimName)
{
    if (shimName.empty() || shimName.find('/') != std::string::npos)
        Fail(kExitUsage, "the shim name must be a plain file name, got \"" + shimName + "\"");
    for (const char c : shimName)
        if (c <= ' ' || c > '~' || c == ':')
            Fail(kExitUsage, "the shim name must be printable ASCII without spaces or ':', got \"" + shimName + "\"");

    struct stat info{};
    Image image(path, ReadFile(path, info));
    try
    {
        Patcher patcher(image, shimName);
        if (patcher.Run())
            ReplaceFile(path, image.Data(), info);
    }
    catch (Failure& failure)
    {
        failure.message = path + ": " + failure.message;
        throw;
    }
    return kExitOk;
}

void Usage(FILE* stream)
{
    std::fprintf(stream,
                 "usage:\n"
                 "  elf_weaken_glibcxx check-system\n"
                 "      print \"present\" if libstdc++.so.6 defines %s@%s, else \"missing\"\n"
                 "  elf_weaken_glibcxx patch <library.so> <shim-file-name>\n"
                 "      make <library.so> accept a libstdc++ without %s (idempotent)\n"
                 "exit codes: 0 ok or nothing to do, 1 usage, 2 I/O error, 3 not a supported ELF file,\n"
                 "            4 layout cannot be patched safely, 5 libstdc++.so.6 cannot be loaded\n",
                 std::string(kSymbol).c_str(), std::string(kVersion).c_str(), std::string(kVersion).c_str());
}
} // namespace

int main(int argc, char** argv)
{
    try
    {
        if (!HostIsLittleEndian())
            Fail(kExitUnsafe, "this tool only runs on little-endian hosts");
        const std::vector<std::string> args(argv + 1, argv + argc);
        if (args.size() == 1 && (args[0] == "-h" || args[0] == "--help"))
        {
            Usage(stdout);
            return kExitOk;
        }
        if (args.size() == 1 && args[0] == "check-system")
            return CheckSystem();
        if (args.size() == 3 && args[0] == "patch")
            return Patch(args[1], args[2]);
        Usage(stderr);
        return kExitUsage;
    }
    catch (const Failure& failure)
    {
        std::fflush(stdout);
        std::fprintf(stderr, "elf_weaken_glibcxx: error: %s\n", failure.message.c_str());
        return failure.code;
    }
    catch (const std::exception& exception)
    {
        std::fflush(stdout);
        std::fprintf(stderr, "elf_weaken_glibcxx: error: %s\n", exception.what());
        return kExitIo;
    }
}
