-- Every legacy record read is either landed or quarantined: no record is lost.
select
    source_file,
    records_read,
    records_landed,
    records_quarantined
from {{ ref('stg_legacy__file_log') }}
where
    status = 'loaded'
    and records_read <> records_landed + records_quarantined
