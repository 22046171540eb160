import Foundation

extension FileHandle {
    /// Up to `count` bytes, nil at end of file. A failed read (EIO, EISDIR, …) is an I/O error (exit 74)
    /// naming `what` and the system's reason, instead of an untyped Foundation error (which would be exit 70).
    public func readChunk(upToCount count: Int, what: @autoclosure () -> String) throws(LetheError) -> Data? {
        do {
            guard let data = try read(upToCount: count), !data.isEmpty else { return nil }
            return data
        } catch {
            var error = error as NSError
            if let underlying = error.userInfo[NSUnderlyingErrorKey] as? NSError { error = underlying }
            let reason = error.domain == NSPOSIXErrorDomain ? String(cString: strerror(Int32(error.code))) : "error \(error.code)"
            throw LetheError(.ioError, "cannot read \(what()): \(reason)", hint: "check that it is a readable regular file and that its disk is healthy")
        }
    }
}
