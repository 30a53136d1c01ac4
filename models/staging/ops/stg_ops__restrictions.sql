{% if var('has_restrictions', false) %}

    with

    source as (
        select * from {{ source('ops', 'restrictions') }}
    ),

    renamed as (
        select
            cast(customer as bigint) as customer_number,
            cast(restricted_on as date) as restricted_on,
            cast(erasable_on as date) as erasable_on
        from source
    )

    select * from renamed

{% else %}

    -- no customer has been restricted yet: the register does not exist
    select
        cast(null as bigint) as customer_number,
        cast(null as date) as restricted_on,
        cast(null as date) as erasable_on
    where false

{% endif %}
