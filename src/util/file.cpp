#include "util/file.h"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "util/error.h"

namespace nograd {

InputFile::InputFile(const std::string& path) : path_(path) {
    struct stat st {};
    if (stat(path.c_str(), &st) != 0) throw Error(path + ": cannot open: " + std::strerror(errno));
    if (S_ISDIR(st.st_mode)) throw file_error(path, "a file", "a directory");
    file_ = std::fopen(path.c_str(), "rb");
    if (!file_) throw Error(path + ": cannot open: " + std::strerror(errno));
    size_ = size_t(st.st_size);
}

InputFile::~InputFile() {
    if (file_) std::fclose(file_);
}

void InputFile::read_exact(void* out, size_t bytes, const std::string& what) {
    if (bytes == 0) return;
    const size_t got = std::fread(out, 1, bytes, file_);
    if (got != bytes)
        throw file_error(path_, std::to_string(bytes) + " bytes of " + what, std::to_string(got) + " (file too short)");
}

void InputFile::seek(size_t offset) {
    if (fseeko(file_, off_t(offset), SEEK_SET) != 0) throw Error(path_ + ": cannot seek: " + std::strerror(errno));
}

AtomicOutputFile::AtomicOutputFile(const std::string& path)
    : path_(path), temp_path_(temp_path_prefix(path) + std::to_string(getpid())) {
    file_ = std::fopen(temp_path_.c_str(), "wb");
    if (!file_) throw Error(path + ": cannot write (" + temp_path_ + "): " + std::strerror(errno));
}

AtomicOutputFile::~AtomicOutputFile() {
    if (file_) std::fclose(file_);
    if (!temp_path_.empty()) std::remove(temp_path_.c_str());
}

void AtomicOutputFile::write(const void* data, size_t bytes) {
    if (std::fwrite(data, 1, bytes, file_) != bytes)
        throw Error(path_ + ": write failed (" + std::strerror(errno) + "); the previous file, if any, is untouched");
}

void AtomicOutputFile::finish() {
    if (finished_) return;
    const bool ok = std::fflush(file_) == 0 && fsync(fileno(file_)) == 0;
    const int saved_errno = errno;
    const bool closed = std::fclose(file_) == 0;
    file_ = nullptr;
    if (!ok || !closed)
        throw Error(path_ + ": write failed (" + std::strerror(ok ? errno : saved_errno) +
                    "); the previous file, if any, is untouched");
    finished_ = true;
}

void AtomicOutputFile::commit() {
    finish();
    if (std::rename(temp_path_.c_str(), path_.c_str()) != 0)
        throw Error(path_ + ": cannot rename " + temp_path_ + " over it: " + std::strerror(errno));
    temp_path_.clear();  // nothing left to clean up
    // The rename lives in the folder's own data: without this, a power cut could still undo it.
    const std::string folder = parent_folder(path_);
    const int fd = open(folder.c_str(), O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

std::string temp_path_prefix(const std::string& path) { return path + ".tmp"; }

std::vector<std::string> leftover_temp_files(const std::string& path) {
    namespace fs = std::filesystem;
    const std::string prefix = fs::path(temp_path_prefix(path)).filename().string();
    std::vector<std::string> found;
    std::error_code ec;
    for (const fs::directory_entry& e : fs::directory_iterator(parent_folder(path), ec)) {
        const std::string name = e.path().filename().string();
        if (name.compare(0, prefix.size(), prefix) != 0) continue;
        const std::string pid_text = name.substr(prefix.size());
        if (pid_text.empty() || pid_text.find_first_not_of("0123456789") != std::string::npos) continue;
        const long pid = std::strtol(pid_text.c_str(), nullptr, 10);
        if (pid == long(getpid()) || kill(pid_t(pid), 0) == 0 || errno != ESRCH) continue;  // a live writer's
        found.push_back(e.path().string());
    }
    return found;
}

std::string parent_folder(const std::string& path) {
    const std::string folder = std::filesystem::path(path).parent_path().string();
    return folder.empty() ? "." : folder;
}

void check_free_space(const std::string& path, size_t bytes, const std::string& flag) {
    struct statvfs fs {};
    const std::string folder = parent_folder(path);
    if (statvfs(folder.c_str(), &fs) != 0) return;  // unknown: the writes themselves will report problems
    const unsigned long long free_bytes = (unsigned long long)(fs.f_bavail) * fs.f_frsize;
    if (free_bytes < bytes)
        throw Error(flag + " " + path + ": expected " + std::to_string(bytes / 1000000 + 1) + " MB free in " + folder +
                    " for a save, found " + std::to_string(free_bytes / 1000000) + " MB");
}

void check_writable(const std::string& path, const std::string& flag) {
    const std::string probe = path + ".probe" + std::to_string(getpid());
    FILE* f = std::fopen(probe.c_str(), "wb");
    if (!f) throw Error(flag + " " + path + ": cannot create files there: " + std::strerror(errno));
    std::fclose(f);
    std::remove(probe.c_str());
}

bool file_exists(const std::string& path) {
    struct stat st {};
    return stat(path.c_str(), &st) == 0;
}

}  // namespace nograd
