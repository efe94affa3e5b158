/**
 * The helper types after `Database` in generated types. Their names and parameters are the Supabase
 * CLI's, which application code uses (`Tables<'messages'>`, `TablesInsert<{ schema: 'x' }, 't'>`,
 * `Enums<'mood'>`, `CompositeTypes<'address'>`); `public` is the default schema, as there.
 */
export const HELPER_TYPES = `type DatabaseWithoutInternals = Omit<Database, "__InternalSupabase">

type DefaultSchema = DatabaseWithoutInternals[Extract<keyof Database, "public">]

type SchemaName = keyof DatabaseWithoutInternals

/** Tables and views of a schema, for the helpers that read rows. */
type Readable<S extends SchemaName> = DatabaseWithoutInternals[S]["Tables"] &
  DatabaseWithoutInternals[S]["Views"]

type DefaultReadable = DefaultSchema["Tables"] & DefaultSchema["Views"]

export type Tables<
  NameOrSchema extends keyof DefaultReadable | { schema: SchemaName },
  TableName extends (NameOrSchema extends { schema: SchemaName }
    ? keyof Readable<NameOrSchema["schema"]>
    : never) = never,
> = NameOrSchema extends { schema: SchemaName }
  ? Readable<NameOrSchema["schema"]>[TableName] extends { Row: infer R }
    ? R
    : never
  : NameOrSchema extends keyof DefaultReadable
    ? DefaultReadable[NameOrSchema] extends { Row: infer R }
      ? R
      : never
    : never

export type TablesInsert<
  NameOrSchema extends keyof DefaultSchema["Tables"] | { schema: SchemaName },
  TableName extends (NameOrSchema extends { schema: SchemaName }
    ? keyof DatabaseWithoutInternals[NameOrSchema["schema"]]["Tables"]
    : never) = never,
> = NameOrSchema extends { schema: SchemaName }
  ? DatabaseWithoutInternals[NameOrSchema["schema"]]["Tables"][TableName] extends {
      Insert: infer I
    }
    ? I
    : never
  : NameOrSchema extends keyof DefaultSchema["Tables"]
    ? DefaultSchema["Tables"][NameOrSchema] extends { Insert: infer I }
      ? I
      : never
    : never

export type TablesUpdate<
  NameOrSchema extends keyof DefaultSchema["Tables"] | { schema: SchemaName },
  TableName extends (NameOrSchema extends { schema: SchemaName }
    ? keyof DatabaseWithoutInternals[NameOrSchema["schema"]]["Tables"]
    : never) = never,
> = NameOrSchema extends { schema: SchemaName }
  ? DatabaseWithoutInternals[NameOrSchema["schema"]]["Tables"][TableName] extends {
      Update: infer U
    }
    ? U
    : never
  : NameOrSchema extends keyof DefaultSchema["Tables"]
    ? DefaultSchema["Tables"][NameOrSchema] extends { Update: infer U }
      ? U
      : never
    : never

export type Enums<
  NameOrSchema extends keyof DefaultSchema["Enums"] | { schema: SchemaName },
  EnumName extends (NameOrSchema extends { schema: SchemaName }
    ? keyof DatabaseWithoutInternals[NameOrSchema["schema"]]["Enums"]
    : never) = never,
> = NameOrSchema extends { schema: SchemaName }
  ? DatabaseWithoutInternals[NameOrSchema["schema"]]["Enums"][EnumName]
  : NameOrSchema extends keyof DefaultSchema["Enums"]
    ? DefaultSchema["Enums"][NameOrSchema]
    : never

export type CompositeTypes<
  NameOrSchema extends
    keyof DefaultSchema["CompositeTypes"] | { schema: SchemaName },
  TypeName extends (NameOrSchema extends { schema: SchemaName }
    ? keyof DatabaseWithoutInternals[NameOrSchema["schema"]]["CompositeTypes"]
    : never) = never,
> = NameOrSchema extends { schema: SchemaName }
  ? DatabaseWithoutInternals[NameOrSchema["schema"]]["CompositeTypes"][TypeName]
  : NameOrSchema extends keyof DefaultSchema["CompositeTypes"]
    ? DefaultSchema["CompositeTypes"][NameOrSchema]
    : never

`;
