import Foundation

/// Files that hold secrets or personal data (keyrings, exports, backups): created with mode 0600 before a
/// byte is written, never overwritten by accident, replaced atomically, and refused when others can read them.
public enum SecureFile {
    /// Creates `path` with mode 0600 and writes `contents`; refuses (exit 73) if it exists.
    public static func createExclusive(_ path: String, contents: [UInt8]) throws(LetheError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            let exists = errno == EEXIST
            throw LetheError(.cannotCreate, exists ? "\(path) already exists; refusing to overwrite it" : "cannot create \(path): \(String(cString: strerror(errno)))",
                             hint: exists ? "choose another path, or move the existing file away first" : "check the directory exists and is writable")
        }
        defer { close(fd) }
        try write(fd, contents, path)
    }

    /// Replaces `path` atomically and durably: a 0600 temp file beside it, written, fsynced, renamed over it, and the
    /// directory fsynced, so after a crash the new file (or the old one) is there, never neither. Temp files that
    /// killed runs left (they hold the whole content) are removed first.
    public static func replace(_ path: String, contents: [UInt8]) throws(LetheError) {
        removeStaleTemporaries(of: path)
        let temp = path + ".tmp-\(getpid())"
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw LetheError(.cannotCreate, "cannot create \(temp): \(String(cString: strerror(errno)))") }
        do {
            try write(fd, contents, temp)
            close(fd)
        } catch {
            close(fd)
            unlink(temp)
            throw error
        }
        guard rename(temp, path) == 0 else {
            unlink(temp)
            throw LetheError(.ioError, "cannot replace \(path): \(String(cString: strerror(errno)))")
        }
        try syncDirectory(of: path)
    }

    /// fsyncs the directory holding `path`, so a rename or creation in it survives a crash.
    public static func syncDirectory(of path: String) throws(LetheError) {
        let directory = (path as NSString).deletingLastPathComponent
        let fd = open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw LetheError(.ioError, "cannot open directory of \(path) to sync it: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw LetheError(.ioError, "cannot fsync the directory of \(path): \(String(cString: strerror(errno)))") }
    }

    /// `<path>.tmp-PID` files of processes that no longer run (a rotation killed mid-write leaves one, holding
    /// every key): removed by the next write, and by the next load of the keyring.
    public static func removeStaleTemporaries(of path: String) {
        let directory = (path as NSString).deletingLastPathComponent
        let prefix = (path as NSString).lastPathComponent + ".tmp-"
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory.isEmpty ? "." : directory)) ?? [] where name.hasPrefix(prefix) {
            guard let pid = Int32(name.dropFirst(prefix.count)), pid != getpid() else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH { unlink((directory as NSString).appendingPathComponent(name)) }
        }
    }

    /// Reads a file that must be private: refused (exit 77) when group or others have any access to it, or when
    /// another user owns it. Opened once and checked through the open descriptor, so the file checked is the file
    /// read (no swap between a check and a second open).
    public static func readPrivate(_ path: String, what: String) throws(LetheError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else {
            let missing = errno == ENOENT
            throw LetheError(missing ? .noInput : .noPermission, "cannot read \(what) \(path): \(String(cString: strerror(errno)))",
                             hint: missing ? "check the path (--keyring / LETHE_KEYRING)" : "it must be a regular file (not a symbolic link) readable by this user")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
            throw LetheError(.noPermission, "\(what) \(path) is not a regular file")
        }
        guard info.st_mode & 0o077 == 0 else {
            throw LetheError(.noPermission, "\(what) \(path) is readable by group or others (mode \(String(info.st_mode & 0o777, radix: 8)))",
                             hint: "chmod 600 \(path); a secret others could read must be treated as leaked")
        }
        guard info.st_uid == geteuid() else {
            throw LetheError(.noPermission, "\(what) \(path) belongs to another user (uid \(info.st_uid))",
                             hint: "the user running lethe must own it: chown it, or run lethe as its owner")
        }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = read(fd, &chunk, chunk.count)
            if count == 0 { break }
            guard count > 0 else {
                if errno == EINTR { continue }
                throw LetheError(.ioError, "cannot read \(what) \(path): \(String(cString: strerror(errno)))")
            }
            bytes += chunk[0..<count]
        }
        return bytes
    }

    /// A directory that holds secrets or decrypted data (backup repository, export directory): group or others
    /// with access get it taken away. Returns the old mode when it was changed, so the caller can say so.
    /// The directory's sticky, setgid and setuid bits are kept. A shared directory (world-writable and sticky,
    /// like /tmp) is refused instead: making it private would break every other user of it.
    public static func tightenDirectory(_ path: String) throws(LetheError) -> String? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        guard info.st_mode & 0o077 != 0 else { return nil }
        let old = String(info.st_mode & 0o7777, radix: 8)
        if info.st_mode & 0o1002 == 0o1002 {
            throw LetheError(.cannotCreate, "\(path) is a shared directory (mode \(old): world-writable and sticky); nothing was written",
                             hint: "give a directory of its own, e.g. \((path as NSString).appendingPathComponent("lethe-export")) (made mode 0700)")
        }
        guard chmod(path, info.st_mode & 0o7700) == 0 else {
            throw LetheError(.noPermission, "\(path) is open to group or others (mode \(old)) and cannot be made private",
                             hint: "chmod 700 \(path)")
        }
        return old
    }

    /// Writes every byte, across short writes.
    static func writeAll(_ fd: Int32, _ contents: [UInt8], _ path: String) throws(LetheError) {
        var offset = 0
        while offset < contents.count {
            let written = contents.withUnsafeBytes { buffer in
                Foundation.write(fd, buffer.baseAddress! + offset, buffer.count - offset)
            }
            guard written > 0 else { throw LetheError(.ioError, "cannot write \(path): \(String(cString: strerror(errno)))") }
            offset += written
        }
    }

    private static func write(_ fd: Int32, _ contents: [UInt8], _ path: String) throws(LetheError) {
        try writeAll(fd, contents, path)
        guard fsync(fd) == 0 else { throw LetheError(.ioError, "cannot fsync \(path): \(String(cString: strerror(errno)))") }
    }
}

/// A private file written in pieces (exports): created with mode 0600 as `<path>.partial`, buffered, then
/// fsynced and moved into place by `commit`. A killed run leaves only the `.partial`, never a short file
/// under the final name; an uncommitted writer removes it.
public final class SecureFileWriter {
    public let path: String
    private let partial: String
    private let replacing: Bool
    private var fd: Int32
    private var buffer: [UInt8] = []
    private var done = false

    /// With `replacing`, an existing file at `path` is replaced on commit; otherwise commit refuses it (exit 73).
    public init(path: String, replacing: Bool) throws(LetheError) {
        self.path = path
        self.partial = path + ".partial"
        self.replacing = replacing
        unlink(partial)
        fd = open(partial, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw LetheError(.cannotCreate, "cannot create \(partial): \(String(cString: strerror(errno)))", hint: "check the directory exists and is writable")
        }
        buffer.reserveCapacity(1 << 16)
        if !replacing && FileManager.default.fileExists(atPath: path) {
            abandon()
            throw LetheError(.cannotCreate, "\(path) already exists; refusing to overwrite it", hint: "choose another directory, or move the existing file away first")
        }
    }

    public func write(_ text: String) throws(LetheError) { try write(Array(text.utf8)) }

    public func write(_ bytes: [UInt8]) throws(LetheError) {
        buffer += bytes
        if buffer.count >= 1 << 16 { try flush() }
    }

    private func flush() throws(LetheError) {
        try SecureFile.writeAll(fd, buffer, partial)
        buffer.removeAll(keepingCapacity: true)
    }

    /// Flushes, fsyncs and moves the file into place.
    public func commit() throws(LetheError) {
        try seal()
        try publish()
    }

    /// Flushes and fsyncs the file, still under its temporary name: what must be true (an audit record) can be
    /// committed before `publish` gives it its name, and a failure in between removes it.
    public func seal() throws(LetheError) {
        try flush()
        guard fsync(fd) == 0 else { throw LetheError(.ioError, "cannot fsync \(partial): \(String(cString: strerror(errno)))") }
        close(fd)
        fd = -1
    }

    /// Moves a sealed file into place.
    public func publish() throws(LetheError) {
        if replacing {
            guard rename(partial, path) == 0 else { throw LetheError(.ioError, "cannot rename \(partial) to \(path): \(String(cString: strerror(errno)))") }
        } else {
            // link() fails if the final name appeared meanwhile, where rename() would silently replace it.
            guard link(partial, path) == 0 else {
                let exists = errno == EEXIST
                abandon()
                throw LetheError(.cannotCreate, exists ? "\(path) already exists; refusing to overwrite it" : "cannot create \(path): \(String(cString: strerror(errno)))")
            }
            unlink(partial)
        }
        done = true
    }

    /// Removes the partial file.
    public func abandon() {
        if fd >= 0 { close(fd); fd = -1 }
        if !done { unlink(partial) }
        done = true
    }

    deinit { abandon() }
}
