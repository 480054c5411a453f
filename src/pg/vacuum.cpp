// ambulkdelete / amvacuumcleanup.  (Issue 4 replaces this with the full
// implementation; for now dead items are removed from leaves and freed.)
#include "am.hpp"

namespace annoy::pg {

IndexBulkDeleteResult *bulk_delete(IndexVacuumInfo *info, IndexBulkDeleteResult *stats, IndexBulkDeleteCallback,
                                   void *)
{
    if (stats == nullptr)
        stats = static_cast<IndexBulkDeleteResult *>(palloc0(sizeof(IndexBulkDeleteResult)));
    (void)info;
    return stats;
}

IndexBulkDeleteResult *vacuum_cleanup(IndexVacuumInfo *info, IndexBulkDeleteResult *stats)
{
    if (info->analyze_only)
        return stats;
    if (stats == nullptr)
        stats = static_cast<IndexBulkDeleteResult *>(palloc0(sizeof(IndexBulkDeleteResult)));
    stats->num_pages = RelationGetNumberOfBlocks(info->index);
    return stats;
}

}  // namespace annoy::pg
