-- Type-2 history of the customer master from the journals: one row per version of a
-- customer with the interval it was valid in. The baseline version starts at the
-- baseline extract date; each applied change starts a new version; a delete ends the last.
-- "What was customer X's credit limit on date D":
--   where customer_number = X and valid_from <= D and (valid_to > D or valid_to is null)
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        meta={'journal_increment': {'kinds': ['customer'], 'touched_by': 'customer_number'}},
        pre_hook="{{ journal_increment_delete() }}",
    )
}}
-- depends_on: {{ ref('int_journal_increment_keys') }}
with

base as (
    select * from {{ source('legacy_cdc', 'customers_base') }}
    where {{ journal_increment_filter(['customer'], 'cm_cust_no') }}
),

baseline as (
    select max(baseline_sequence) as baseline_sequence
    from {{ source('legacy_cdc', 'customers_base') }}
),

changes as (
    select * from {{ ref('stg_legacy_cdc__customer_changes') }}
    where {{ journal_increment_filter(['customer'], 'customer_number') }}
),

baseline_versions as (
    select
        cm_cust_no as customer_number,
        cm_name as customer_name,
        cm_city as city,
        cm_status as status_code,
        cm_currency as currency_code,
        cm_credit_limit as credit_limit,
        'baseline' as change_operation,
        baseline_sequence as change_sequence,
        cast(null as varchar) as changed_by_job,
        cast(null as varchar) as changed_by_user,
        cast(null as varchar) as changed_by_program,
        cast(baseline_extract_date as timestamp) as valid_from
    from base
),

change_versions as (
    select
        customer_number,
        customer_name,
        city,
        status_code,
        currency_code,
        credit_limit,
        change_operation,
        change_sequence,
        changed_by_job,
        changed_by_user,
        changed_by_program,
        cast(changed_at as timestamp) as valid_from
    from changes
    where change_sequence > (select baseline.baseline_sequence from baseline)
),

versions as (
    select * from baseline_versions
    union all
    select * from change_versions
),

windowed as (
    select
        *,
        lead(valid_from) over (
            partition by customer_number order by change_sequence
        ) as next_valid_from,
        row_number() over (
            partition by customer_number order by change_sequence
        ) as version_number
    from versions
),

final as (
    select
        cast(
            cast(customer_number as varchar) || '-' || cast(version_number as varchar) as varchar
        ) as customer_version_key,
        cast(customer_number as bigint) as customer_number,
        cast(version_number as integer) as version_number,
        cast(valid_from as timestamp) as valid_from,
        cast(next_valid_from as timestamp) as valid_to,
        cast(next_valid_from is null and change_operation <> 'delete' as boolean) as is_current,
        cast(change_operation = 'delete' as boolean) as is_deleted,
        cast(customer_name as varchar) as customer_name,
        cast(city as varchar) as city,
        cast(status_code as varchar) as status_code,
        cast(currency_code as varchar) as currency_code,
        cast(credit_limit as decimal(18, 2)) as credit_limit,
        cast(change_operation as varchar) as change_operation,
        cast(change_sequence as bigint) as change_sequence,
        cast(changed_by_job as varchar) as changed_by_job,
        cast(changed_by_user as varchar) as changed_by_user,
        cast(changed_by_program as varchar) as changed_by_program
    from windowed
)

select * from final
