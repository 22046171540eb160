import COpenSSL
import LetheCore

/// The subject common name of a DER-encoded X.509 certificate: how `lethe serve` names a caller on TCP with mutual
/// TLS (the certificate's chain was verified by the TLS handshake against the client CA before this is asked).
public enum X509Name {
    public static func commonName(der: [UInt8]) -> String? {
        der.withUnsafeBufferPointer { buffer -> String? in
            var pointer: UnsafePointer<UInt8>? = buffer.baseAddress
            guard let certificate = d2i_X509(nil, &pointer, buffer.count) else { return nil }
            defer { X509_free(certificate) }
            guard let name = X509_get_subject_name(certificate) else { return nil }
            var text = [CChar](repeating: 0, count: 256)
            let length = X509_NAME_get_text_by_NID(name, NID_commonName, &text, Int32(text.count))
            guard length > 0 else { return nil }
            return String(decoding: text.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
    }
}
