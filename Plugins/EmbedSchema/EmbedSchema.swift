import Foundation
import PackagePlugin

/// Compiles the package's `schema/*.sql` files into the target, so the built
/// `baton` binary migrates a database without the source tree.
///
/// `schema/` stays the single source of the schema: the generated Swift file is
/// rebuilt whenever a file there changes, and is never committed.
@main
struct EmbedSchema: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let schemaDirectory = context.package.directoryURL.appending(path: "schema")
        let sqlFiles = try FileManager.default
            .contentsOfDirectory(at: schemaDirectory, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "sql" }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
        let output = context.pluginWorkDirectoryURL.appending(path: "EmbeddedSchema.swift")
        return [
            .buildCommand(
                displayName: "Embedding \(sqlFiles.count) schema files into \(target.name)",
                executable: try context.tool(named: "BatonSchemaEmbedder").url,
                arguments: [output.path] + sqlFiles.map(\.path),
                inputFiles: sqlFiles,
                outputFiles: [output]
            )
        ]
    }
}
