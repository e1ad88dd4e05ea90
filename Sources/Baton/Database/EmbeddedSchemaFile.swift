/// One file of `schema/`, compiled into the binary by the EmbedSchema build plugin.
struct EmbeddedSchemaFile: Sendable {
    let name: String
    let sql: String
}
