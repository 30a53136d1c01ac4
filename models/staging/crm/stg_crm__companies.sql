with

source as (
    select * from {{ source('crm', 'companies') }}
),

renamed as (
    select
        ---------- ids
        id as company_id,
        try_cast(nullif(trim(erp_customer_number), '') as bigint) as erp_customer_number,

        ---------- text
        name as company_name,
        domain,
        city,
        country as country_name,
        industry,
        nullif(vat_id, '') as vat_id,
        {{ normalize_vat_id('vat_id') }} as vat_id_normalized,

        ---------- booleans
        archived as is_archived,

        ---------- timestamps
        created_at,
        updated_at,
        archived_at

    from source
)

select * from renamed
