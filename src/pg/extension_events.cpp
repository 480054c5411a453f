// Sharing hamming_distance(bit, bit) and <~> with pgvector in one schema.
//
// pgvector's script creates both with plain CREATE FUNCTION / CREATE
// OPERATOR, so it fails if annoy's are in the schema it installs into.  The
// SQL side (annoy--0.2.0.sql, "Sharing the bit operator") keeps hamming_ops
// bound to whichever <~>(bit, bit) annoy's schema holds; this event trigger
// is the one piece that needs C: at ddl_command_start only the parse tree
// says which extension is about to be created and where, and SQL cannot see
// it.  When that is pgvector (or an extension that requires it), into
// annoy's schema, annoy's own two objects are handed over, that is dropped,
// so pgvector's script can create its own; the ddl_command_end trigger then
// binds hamming_ops to them.  Everything runs in the command's transaction:
// if the CREATE EXTENSION fails, annoy's objects come back with the rollback.
#include "pg.hpp"

extern "C" {
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "commands/event_trigger.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "nodes/parsenodes.h"
#include "utils/lsyscache.h"
}

namespace {

// The schema CREATE EXTENSION will install into when its control file names
// none (pgvector's does not): the SCHEMA option, else the first schema of
// the search_path, as CreateExtension chooses it.  InvalidOid if unknown.
Oid target_schema(CreateExtensionStmt *stmt)
{
    ListCell *lc;
    foreach (lc, stmt->options) {
        auto *opt = static_cast<DefElem *>(lfirst(lc));
        if (strcmp(opt->defname, "schema") == 0)
            return get_namespace_oid(defGetString(opt), true);
    }
    List *path = fetch_search_path(false);
    Oid first = path != NIL ? linitial_oid(path) : InvalidOid;
    list_free(path);
    return first;
}

}  // namespace

extern "C" {

PG_FUNCTION_INFO_V1(annoy_yield_bit_operator_trigger);

// ddl_command_start, CREATE EXTENSION: calls
// annoy_yield_bit_operator(extension name, target schema), which decides
// whether pgvector is about to be created there and, if so, drops annoy's
// own hamming_distance(bit, bit) and <~>.
Datum annoy_yield_bit_operator_trigger(PG_FUNCTION_ARGS)
{
    if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
        ereport(ERROR, (errcode(ERRCODE_E_R_I_E_EVENT_TRIGGER_PROTOCOL_VIOLATED),
                        errmsg("annoy_yield_bit_operator_trigger must be called as an event trigger")));
    auto *trigger = reinterpret_cast<EventTriggerData *>(fcinfo->context);
    if (trigger->parsetree == nullptr || !IsA(trigger->parsetree, CreateExtensionStmt))
        PG_RETURN_VOID();
    auto *stmt = reinterpret_cast<CreateExtensionStmt *>(trigger->parsetree);

    // Already installed (CREATE EXTENSION IF NOT EXISTS): nothing will be
    // created.  annoy itself: its own script decides.
    if (OidIsValid(get_extension_oid(stmt->extname, true)) || strcmp(stmt->extname, "annoy") == 0)
        PG_RETURN_VOID();
    // This function lives in annoy's schema (PostgreSQL 15 has no
    // get_extension_schema).
    Oid annoy_schema = get_func_namespace(fcinfo->flinfo->fn_oid);
    if (!OidIsValid(annoy_schema) || target_schema(stmt) != annoy_schema)
        PG_RETURN_VOID();

    const char *call =
        psprintf("SELECT %s.annoy_yield_bit_operator($1)", quote_identifier(get_namespace_name(annoy_schema)));
    Oid argtypes[1] = {TEXTOID};
    Datum args[1] = {CStringGetTextDatum(stmt->extname)};
    SPI_connect();
    if (SPI_execute_with_args(call, 1, argtypes, args, nullptr, false, 1) != SPI_OK_SELECT)
        elog(ERROR, "annoy: %s failed", call);
    SPI_finish();
    PG_RETURN_VOID();
}

}  // extern "C"
