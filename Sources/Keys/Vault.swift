import LetheCore
import LetheCrypto
import Phone
import Policy
import Postgres

/// Seals and opens personal values for one run: the customer data keys, one AES-GCM context, the blind index.
public final class Vault {
    public let keys: DataKeys
    public let blindIndex: BlindIndex
    private let cipher: AESGCM

    public init(db: PostgresConnection, keyring: Keyring, blindIndexBits: Int = BlindIndex.defaultBits) throws {
        keys = try DataKeys(db: db, keyring: keyring)
        blindIndex = try BlindIndex(key: try keyring.derivedKey(.blindIndex), bits: blindIndexBits)
        cipher = try AESGCM()
    }

    public func seal(_ plaintext: [UInt8], _ context: EnvelopeContext) throws -> [UInt8] {
        let (id, key) = try keys.sealingKey(customer: context.customer)
        return try Envelope.seal(plaintext, key: key, keyId: id, context: context, cipher: cipher)
    }

    /// Opens a stored envelope. A failure is an integrity error naming table, column and row, never the value.
    public func open(_ envelope: [UInt8], _ context: EnvelopeContext, row: Int64) throws -> [UInt8] {
        let place = "\(context.table).\(context.column) of row \(row) (customer \(context.customer))"
        guard let keyId = Envelope.keyId(of: envelope) else {
            throw LetheError.integrity("\(place) is not a sealed envelope", hint: "plaintext or legacy values: run 'lethe encrypt migrate'")
        }
        let key: SecretKey
        do {
            key = try keys.key(id: keyId, customer: context.customer)
        } catch let error as LetheError {
            throw LetheError.integrity("cannot open \(place): \(error.message)", hint: error.hint)
        }
        guard let plaintext = try Envelope.open(envelope, key: key, context: context, cipher: cipher) else {
            throw LetheError.integrity("cannot open \(place): authentication failed",
                                       hint: "the value was altered or moved from another row, column or customer")
        }
        return plaintext
    }
}
