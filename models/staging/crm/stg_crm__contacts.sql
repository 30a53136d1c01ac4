with

source as (
    select * from {{ source('crm', 'contacts') }}
),

renamed as (
    select
        ---------- ids
        id as contact_id,
        company_id,

        ---------- text
        firstname as first_name,
        lastname as last_name,
        lower(email) as email,
        phone,
        jobtitle as job_title,

        ---------- booleans
        archived as is_archived,

        ---------- timestamps
        created_at,
        updated_at,
        archived_at

    from source
)

select * from renamed
